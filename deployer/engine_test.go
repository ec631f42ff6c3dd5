package deployer_test

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/test/standin"

	"github.com/m2mnet/m2m/internal/testenv"
)

// images are the stand-in images built once for the engine tests, named uniquely and removed at the end.
type images struct {
	TigerBeetle, Grafana, Prometheus, Connector string
}

var (
	buildOnce sync.Once
	built     images
	buildErr  error
	buildCli  *client.Client
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildCli != nil {
		for _, ref := range []string{built.TigerBeetle, built.Grafana, built.Prometheus, built.Connector} {
			if ref != "" {
				buildCli.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true, PruneChildren: true})
			}
		}
	}
	os.Exit(code)
}

func randomName(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// engine connects to the local engine, or skips (fails under M2M_REQUIRE_DOCKER=1) when there is none.
func engine(t *testing.T) *client.Client {
	t.Helper()
	testenv.NeedsEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cli, err := deployer.Connect(ctx)
	if err != nil {
		t.Fatalf("connect to the engine that answered a moment ago: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// standinImages builds the stand-in images once per test binary.
func standinImages(t *testing.T, cli *client.Client) images {
	t.Helper()
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		bc, err := deployer.Connect(ctx)
		if err != nil {
			buildErr = err
			return
		}
		buildCli = bc
		prefix := randomName("m2mtest-")
		built = images{TigerBeetle: prefix + "/tigerbeetle:standin", Grafana: prefix + "/grafana:standin",
			Prometheus: prefix + "/prometheus:standin", Connector: prefix + "/connector:standin"}
		if buildErr = standin.BuildTigerBeetle(ctx, bc, built.TigerBeetle); buildErr != nil {
			return
		}
		if buildErr = standin.BuildGrafana(ctx, bc, built.Grafana); buildErr != nil {
			return
		}
		if buildErr = standin.BuildPrometheus(ctx, bc, built.Prometheus); buildErr != nil {
			return
		}
		// The connector stand-in is the Grafana stand-in's binary packed alone FROM scratch, the way
		// --connector-binary packs the real one.
		dir, err := os.MkdirTemp("", "m2mtest-bin-")
		if err != nil {
			buildErr = err
			return
		}
		defer os.RemoveAll(dir)
		bin, err := standin.BuildBinary(ctx, "grafana", dir)
		if err != nil {
			buildErr = err
			return
		}
		buildErr = deployer.BuildImageFromBinary(ctx, bc, bin, built.Connector)
	})
	if buildErr != nil {
		t.Fatalf("build stand-in images: %v", buildErr)
	}
	return built
}

// stackYAML is a small copy of the production stack's shape, on stand-in images.
const stackYAML = `
name: {{PROJECT}}
services:
  tigerbeetle-format:
    image: {{TB}}
    entrypoint: ["/bin/sh", "-c"]
    command:
      - >-
        test -e /data/0_0.tigerbeetle && exit 0;
        rm -f /data/0_0.tigerbeetle.tmp &&
        /tigerbeetle format --cluster=7 --replica=0 --replica-count=1 /data/0_0.tigerbeetle.tmp &&
        mv /data/0_0.tigerbeetle.tmp /data/0_0.tigerbeetle
    volumes: [tigerbeetle-data:/data]
    restart: "no"
    labels: {io.m2m.done-if-exists: /data/0_0.tigerbeetle}
    networks: [ilp-production-network]
  tigerbeetle:
    image: {{TB}}
    command: ["start", "--addresses=0.0.0.0:3000", "--development", "/data/0_0.tigerbeetle"]
    volumes: [tigerbeetle-data:/data]
    restart: unless-stopped
    depends_on:
      tigerbeetle-format: {condition: service_completed_successfully}
    healthcheck:
      test: ["CMD-SHELL", "echo | nc -w 1 127.0.0.1 3000"]
      interval: 1s
      timeout: 2s
      retries: 30
    networks: [ilp-production-network]
  connector:
    image: {{CONNECTOR}}
    environment:
      GF_SERVER_HTTP_PORT: "8080"
      CONNECTOR_SETTING: "${CONNECTOR_SETTING:-one}"
    ports: ["127.0.0.1::8080"]
    restart: unless-stopped
    depends_on:
      tigerbeetle: {condition: service_healthy}
    volumes: [connector-data:/data]
    networks: [ilp-production-network]
  prometheus:
    image: {{PROM}}
    command: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
    configs:
      - source: prometheus-config
        target: /etc/prometheus/prometheus.yml
    volumes: [prometheus-data:/prometheus]
    restart: unless-stopped
    depends_on:
      connector: {condition: service_started}
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9090/-/healthy"]
      interval: 1s
      timeout: 2s
      retries: 60
    networks: [ilp-production-network]
  grafana:
    image: {{GRAFANA}}
    environment:
      GRAFANA_SETTING: "${GRAFANA_SETTING:-one}"
    restart: unless-stopped
    depends_on:
      prometheus: {condition: service_healthy, required: false}
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:3000/api/health"]
      interval: 1s
      timeout: 2s
      retries: 30
    volumes: [grafana-data:/var/lib/grafana]
    networks: [ilp-production-network]
networks:
  ilp-production-network: {}
volumes:
  tigerbeetle-data: {}
  connector-data: {}
  prometheus-data: {}
  grafana-data: {}
configs:
  prometheus-config:
    file: ./prometheus.yml
`

// testStack is a project on the engine with a unique name, removed (with its volumes) when the test ends.
type testStack struct {
	t       *testing.T
	cli     *client.Client
	d       *deployer.Deployer
	name    string
	dir     string
	imgs    images
	yaml    string
	env     map[string]string
	events  []deployer.Event
	eventMu sync.Mutex
}

func newTestStack(t *testing.T) *testStack {
	t.Helper()
	cli := engine(t)
	imgs := standinImages(t, cli)
	s := &testStack{t: t, cli: cli, d: deployer.New(cli), name: randomName("m2mtest-"), dir: t.TempDir(), imgs: imgs,
		yaml: stackYAML, env: map[string]string{}}
	if err := os.WriteFile(filepath.Join(s.dir, "prometheus.yml"), []byte("global:\n  scrape_interval: 5s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		zero := 0
		if err := s.d.Down(ctx, s.name, deployer.DownOptions{Volumes: true, Timeout: &zero}); err != nil {
			t.Errorf("clean up project %s: %v", s.name, err)
		}
	})
	return s
}

// project loads the YAML with compose-go, as `docker compose` would.
func (s *testStack) project() *types.Project {
	s.t.Helper()
	y := strings.NewReplacer("{{PROJECT}}", s.name, "{{TB}}", s.imgs.TigerBeetle, "{{CONNECTOR}}", s.imgs.Connector,
		"{{PROM}}", s.imgs.Prometheus, "{{GRAFANA}}", s.imgs.Grafana).Replace(s.yaml)
	path := filepath.Join(s.dir, "compose.yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		s.t.Fatal(err)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  s.dir,
		ConfigFiles: []types.ConfigFile{{Filename: path}},
		Environment: s.env,
	}, func(o *loader.Options) { o.SetProjectName(s.name, true) })
	if err != nil {
		s.t.Fatalf("load test project: %v", err)
	}
	return p
}

func (s *testStack) up(ctx context.Context) (*deployer.Plan, error) {
	s.eventMu.Lock()
	s.events = nil
	s.eventMu.Unlock()
	return s.d.Up(ctx, s.project(), deployer.UpOptions{
		Options:     deployer.Options{Pull: deployer.PullNever},
		WaitTimeout: 2 * time.Minute,
		Reporter: deployer.ReporterFunc(func(e deployer.Event) {
			s.eventMu.Lock()
			s.events = append(s.events, e)
			s.eventMu.Unlock()
		}),
	})
}

func (s *testStack) mustUp(ctx context.Context) *deployer.Plan {
	s.t.Helper()
	plan, err := s.up(ctx)
	if err != nil {
		s.t.Fatalf("up: %v", err)
	}
	return plan
}

func (s *testStack) statuses(ctx context.Context) map[string]deployer.ServiceStatus {
	s.t.Helper()
	rows, err := s.d.Status(ctx, s.name, nil)
	if err != nil {
		s.t.Fatalf("status: %v", err)
	}
	out := map[string]deployer.ServiceStatus{}
	for _, r := range rows {
		out[r.Service] = r
	}
	return out
}

func (s *testStack) sawEvent(name, status string) bool {
	s.eventMu.Lock()
	defer s.eventMu.Unlock()
	for _, e := range s.events {
		if e.Name == name && e.Status == status {
			return true
		}
	}
	return false
}

func actions(p *deployer.Plan) map[string]deployer.Action {
	out := map[string]deployer.Action{}
	for _, s := range p.Services {
		out[s.Service] = s.Action
	}
	return out
}

func fmtActions(p *deployer.Plan) string {
	var b strings.Builder
	for _, s := range p.Services {
		fmt.Fprintf(&b, "%s=%s(%s) ", s.Service, s.Action, s.Reason)
	}
	return b.String()
}

// dataChecksum is the sha256 of the TigerBeetle data file, read through the API from the service's container.
func (s *testStack) dataChecksum(ctx context.Context) string {
	s.t.Helper()
	id := s.containerID(ctx, "tigerbeetle")
	res, err := s.cli.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: "/data/0_0.tigerbeetle"})
	if err != nil {
		s.t.Fatalf("read data file: %v", err)
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	if _, err := tr.Next(); err != nil {
		s.t.Fatalf("read data file: %v", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, tr); err != nil {
		s.t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (s *testStack) containerID(ctx context.Context, service string) string {
	s.t.Helper()
	st := s.statuses(ctx)[service]
	if st.Container == "" {
		s.t.Fatalf("service %s has no container", service)
	}
	res, err := s.cli.ContainerInspect(ctx, st.Container, client.ContainerInspectOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	return res.Container.ID
}

// snapshot is the identity of every container: ID and start time.
func (s *testStack) snapshot(ctx context.Context) map[string]string {
	s.t.Helper()
	out := map[string]string{}
	for svc := range s.statuses(ctx) {
		res, err := s.cli.ContainerInspect(ctx, s.containerID(ctx, svc), client.ContainerInspectOptions{})
		if err != nil {
			s.t.Fatal(err)
		}
		out[svc] = res.Container.ID + "@" + res.Container.State.StartedAt
	}
	return out
}

func itoa(i int) string { return fmt.Sprint(i) }

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o644) }
