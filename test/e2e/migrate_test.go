package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/internal/tbdata/tbdatatest"
	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

// originalVolumes are the TypeScript stack's volumes, by their key in its Compose file: the same keys as m2m's.
var originalVolumes = []string{stack.VolumeTigerBeetle, stack.VolumeConnector, stack.VolumeLogs, stack.VolumePrometheus, stack.VolumeGrafana}

// originalFormat is the original stack's TigerBeetle format command (cluster 0), run only when the file is absent.
const originalFormat = "test -e /data/0_0.tigerbeetle || /tigerbeetle format --cluster=0 --replica=0 --replica-count=1 /data/0_0.tigerbeetle"

// An operator of the TypeScript stack switches: its stack was made by `docker compose` in a directory (the project
// is named after it), m2mctl migrate writes the .env, and m2mctl up adopts the volumes: the ledger's data file is
// the same bytes afterwards, the format never ran, and no second set of volumes was made.
func TestMigrateThenUpAdoptsTheOriginalStacksVolumes(t *testing.T) {
	wallTime(t)
	name := "ts-" + randomHex(4)
	p := &project{t: t, name: name, dir: filepath.Join(t.TempDir(), name)}
	p.envFile = filepath.Join(p.dir, ".env")
	if err := os.Mkdir(p.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.teardown)
	writeOriginalEnv(t, p.envFile)
	if bin := os.Getenv(envComposeBin); bin != "" {
		composeOriginal(t, bin, p)
	} else {
		t.Logf("%s is not set: the original stack's volumes and format container are made through the engine API, labelled as Compose labels them", envComposeBin)
		apiOriginal(t, p)
	}
	before, size, ok := p.dataFile(stack.DataFile)
	if !ok || size == 0 {
		t.Fatalf("the original stack left no data file in %s", p.volumeName(stack.VolumeTigerBeetle))
	}
	volsBefore := p.volumeNames()

	r := p.mustCtl(time.Minute, "migrate", "--from", p.envFile, "--env-file", p.envFile, "--project", p.name)
	if !strings.Contains(r.stderr, "TIGERBEETLE_CLUSTER_ID=0: ") || !strings.Contains(r.stderr, "m2mctl up keeps the original's volumes "+p.volumeName(stack.VolumeTigerBeetle)) {
		t.Fatalf("migrate did not take the ledger's cluster 0 and the original's volumes:\n%s", r.stderr)
	}
	t.Logf("migrate said:\n%s", r.stderr)
	ledger := "memory"
	if env.images.RealTigerBeetle {
		ledger = "tigerbeetle"
	}
	p.set(map[string]string{
		settings.ConnectorImage: env.images.Connector, settings.TigerBeetleImage: env.images.TigerBeetle,
		settings.PrometheusImage: env.images.Prometheus, settings.GrafanaImage: env.images.Grafana, settings.BaseRPCURL: env.evm.URL,
		settings.BTPPort: "0", settings.HealthCheckPort: "0", settings.PrometheusPort: "0", settings.GrafanaPort: "0",
		settings.Ledger: ledger, settings.TigerBeetleCacheGrid: "256MiB",
	})

	// No -p: the project name comes from the .env that migrate wrote, as it would for the operator.
	events := upWithoutProjectFlag(t, p)
	for _, e := range events {
		if e.Kind == "volume" && e.Status == deployer.StatusCreated {
			t.Errorf("m2mctl up created volume %s; the original's were to be adopted", e.Name)
		}
	}
	p.requireHealthy(running...)
	if got := p.volumeNames(); strings.Join(got, ",") != strings.Join(volsBefore, ",") {
		t.Errorf("volumes of project %s after up: %v, want the original's %v and no others", p.name, got, volsBefore)
	}
	if f := p.container(settings.ServiceFormat); !f.StartedAt.IsZero() {
		t.Errorf("%s ran (started %s) over the original's ledger", settings.ServiceFormat, f.StartedAt)
	}
	after, _, ok := p.dataFile(stack.DataFile)
	switch {
	case !ok:
		t.Fatalf("%s is gone after m2mctl up", stack.DataFile)
	case env.images.RealTigerBeetle:
		t.Logf("data file sha256 before %s, after %s (real TigerBeetle writes to it)", before[:12], after[:12])
	case after != before:
		t.Errorf("%s changed: sha256 %s before m2mctl up, %s after", stack.DataFile, before, after)
	}
}

// writeOriginalEnv fills the TypeScript stack's .env.example as an operator would for an EVM node with its key in
// the .env, GRAFANA_PASSWORD left at admin.
func writeOriginalEnv(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "cmd", "m2mctl", "testdata", "typescript.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for k, v := range map[string]string{"NODE_ID": "ts-operator", "EVM_ADDRESS": evmAddress, "EVM_PRIVATE_KEY": "0x" + randomHex(32)} {
		text = regexp.MustCompile(`(?m)^`+k+`=.*$`).ReplaceAllLiteralString(text, k+"="+v)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// composeOriginal makes the original stack with `docker compose up` from a file shaped like the original's: its
// volumes, and a TigerBeetle service that formats the data file with --cluster=0. No -p: the directory names it.
func composeOriginal(t *testing.T, bin string, p *project) {
	t.Helper()
	var b strings.Builder
	b.WriteString("services:\n  tigerbeetle:\n    image: " + env.images.TigerBeetle + "\n    entrypoint: [\"/bin/sh\", \"-c\"]\n")
	b.WriteString("    command: [\"" + originalFormat + "\"]\n    security_opt: [\"seccomp=unconfined\"]\n    volumes:\n")
	for i, v := range originalVolumes {
		target := "/data"
		if i > 0 {
			target = "/mnt/" + v
		}
		b.WriteString("      - " + v + ":" + target + "\n")
	}
	b.WriteString("volumes:\n")
	for _, v := range originalVolumes {
		b.WriteString("  " + v + ":\n")
	}
	file := filepath.Join(p.dir, stack.ComposeFile)
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-f", file, "up", "--pull", "never", "--exit-code-from", "tigerbeetle")
	cmd.Dir = p.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker compose up (the original stack): %v\n%s", err, out)
	}
	t.Logf("the original stack: made by %s up in %s (project %s, from the directory's name)", bin, p.dir, p.name)
}

// apiOriginal makes what `docker compose up` would for that file, through the engine API: the project's labelled
// volumes and a labelled tigerbeetle container that formats the data file with --cluster=0.
func apiOriginal(t *testing.T, p *project) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	labels := func(extra ...string) map[string]string {
		l := map[string]string{deployer.LabelProject: p.name, "com.docker.compose.version": "2.40.3"}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return l
	}
	mounts := []mount.Mount{}
	for i, v := range originalVolumes {
		if _, err := env.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: p.volumeName(v), Labels: labels(deployer.LabelVolume, v)}); err != nil {
			t.Fatal(err)
		}
		target := "/data"
		if i > 0 {
			target = "/mnt/" + v
		}
		mounts = append(mounts, mount.Mount{Type: mount.TypeVolume, Source: p.volumeName(v), Target: target})
	}
	c, err := env.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: p.name + "-tigerbeetle-1",
		Config: &container.Config{Image: env.images.TigerBeetle, Entrypoint: []string{"/bin/sh", "-c"}, Cmd: []string{originalFormat},
			Labels: labels(deployer.LabelService, "tigerbeetle", deployer.LabelOneoff, "False", deployer.LabelNumber, "1")},
		HostConfig: &container.HostConfig{Mounts: mounts, SecurityOpt: []string{"seccomp=unconfined"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	wait := env.cli.ContainerWait(ctx, c.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := env.cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-wait.Result:
		if res.StatusCode != 0 {
			t.Fatalf("the original's format exited %d", res.StatusCode)
		}
	case err := <-wait.Error:
		t.Fatal(err)
	}
}

// volumeNames lists the engine's volumes labelled with the project, sorted.
func (p *project) volumeNames() []string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vols, err := env.cli.VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("label", deployer.LabelProject+"="+p.name)})
	if err != nil {
		p.t.Fatal(err)
	}
	var names []string
	for _, v := range vols.Items {
		names = append(names, v.Name)
	}
	sort.Strings(names)
	return names
}

// upWithoutProjectFlag runs `m2mctl up -o json` with the .env alone, and returns its progress events.
func upWithoutProjectFlag(t *testing.T, p *project) []deployer.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.m2mctl, "up", "--env-file", p.envFile, "--pull", "never", "--wait-timeout", "3m", "-o", "json")
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("m2mctl up (project from the .env): %v\n%s%s", err, stderr.String(), p.diagnose())
	}
	var events []deployer.Event
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var e deployer.Event
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			events = append(events, e)
		}
	}
	if len(events) == 0 {
		t.Fatalf("m2mctl up -o json printed no events:\n%s", out)
	}
	return events
}

// A ledger formatted with another cluster than 0: migrate takes the cluster from the data file's superblock,
// read through the engine, and never makes a new one.
func TestMigrateReadsTheClusterFromTheLedgersSuperblock(t *testing.T) {
	wallTime(t)
	name := "ts-" + randomHex(4)
	p := &project{t: t, name: name, dir: filepath.Join(t.TempDir(), name)}
	p.envFile = filepath.Join(p.dir, ".env")
	if err := os.Mkdir(p.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.teardown)
	writeOriginalEnv(t, p.envFile)
	cluster, _ := new(big.Int).SetString("281474976710656000000000000000000042", 10)
	// The superblock zone, then the start of the write-ahead log (zeros here).
	putDataFile(t, p, append(tbdatatest.Zone(cluster, 3), make([]byte, 64<<10)...))

	r := p.mustCtl(time.Minute, "migrate", "--from", p.envFile, "--env-file", p.envFile, "--project", p.name)
	v, err := settings.Load(p.envFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.String(settings.TigerBeetleClusterID); got != cluster.String() || !strings.Contains(r.stderr, "read from the superblock") {
		t.Errorf("TIGERBEETLE_CLUSTER_ID=%s, want %s read from the superblock; migrate said:\n%s", got, cluster, r.stderr)
	}
	if strings.Contains(r.stderr, "warning: cluster id 0") {
		t.Errorf("migrate warned about cluster 0 for cluster %s:\n%s", cluster, r.stderr)
	}
}

// putDataFile makes the project's tigerbeetle-data volume, labelled as Compose labels it, holding data as the
// data file; a created, never-started container carries it in.
func putDataFile(t *testing.T, p *project, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	vol := p.volumeName(stack.VolumeTigerBeetle)
	if _, err := env.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: vol,
		Labels: map[string]string{deployer.LabelProject: p.name, deployer.LabelVolume: stack.VolumeTigerBeetle}}); err != nil {
		t.Fatal(err)
	}
	c, err := env.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: env.images.TigerBeetle, Labels: map[string]string{labelHelper: p.name}},
		HostConfig: &container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: vol, Target: "/data"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer env.cli.ContainerRemove(context.WithoutCancel(ctx), c.ID, client.ContainerRemoveOptions{Force: true})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: path.Base(stack.DataFile), Mode: 0o600, Size: int64(len(data))})
	tw.Write(data)
	tw.Close()
	if _, err := env.cli.CopyToContainer(ctx, c.ID, client.CopyToContainerOptions{DestinationPath: "/data", Content: &buf}); err != nil {
		t.Fatal(err)
	}
}
