package stack

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/stack/settings"
	"github.com/m2mnet/m2m/stack/settings/settingstest"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

func TestGeneratedFilesAreFresh(t *testing.T) {
	files, err := GeneratedFiles()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		have, err := os.ReadFile(filepath.Join("..", name))
		if err != nil {
			t.Fatalf("%s: %v (run `make generate`)", name, err)
		}
		if !bytes.Equal(have, want) {
			t.Errorf("%s is stale: run `make generate` and commit the result", name)
		}
	}
}

func TestYAMLIsByteStable(t *testing.T) {
	a, _ := YAML(Build(settings.Defaults()))
	b, _ := YAML(Build(settings.Defaults()))
	if !bytes.Equal(a, b) {
		t.Fatal("two builds of the same settings differ")
	}
}

func TestYAMLHoldsNoSecret(t *testing.T) {
	raw := settingstest.Sample()
	v, err := settings.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	y, err := YAML(Build(v))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings.Schema() {
		if s.Secret && raw[s.Name] != "" && bytes.Contains(y, []byte(raw[s.Name])) {
			t.Errorf("YAML contains the value of secret %s", s.Name)
		}
	}
}

// TestComposeFileLoadsBackWithCompose loads the checked-in YAML the way `docker compose` does (compose-go's
// CLI loader, .env made from .env.example plus sample values) and checks the stack's shape.
func TestComposeFileLoadsBackWithCompose(t *testing.T) {
	dir := t.TempDir()
	y, _ := os.ReadFile(filepath.Join("..", ComposeFile))
	settingstest.WriteFile(t, dir, ComposeFile, string(y))
	example, _ := os.ReadFile(filepath.Join("..", settings.ExampleFile))
	var env strings.Builder
	for _, line := range strings.Split(string(example), "\n") {
		if k, _, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			if _, set := settingstest.Sample()[k]; set {
				continue
			}
		}
		env.WriteString(line + "\n")
	}
	for k, v := range settingstest.Sample() {
		env.WriteString(k + "=" + v + "\n")
	}
	settingstest.WriteFile(t, dir, ".env", env.String())

	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, ComposeFile)},
		cli.WithWorkingDirectory(dir), cli.WithEnvFiles(), cli.WithDotEnv, cli.WithProfiles([]string{ProfileTracing, ProfileDiscovery}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose-go cannot load %s: %v", ComposeFile, err)
	}
	checkStackShape(t, p)
	if got := p.Services[settings.ServiceGrafana].Environment["GF_SECURITY_ADMIN_PASSWORD"]; got == nil || *got != settingstest.Sample()[settings.GrafanaPassword] {
		t.Errorf("grafana password not resolved from .env")
	}
}

func TestProjectMatchesBuild(t *testing.T) {
	v, err := settings.Parse(settingstest.Sample())
	if err != nil {
		t.Fatal(err)
	}
	p, err := Project(context.Background(), v, LoadOptions{WorkingDir: t.TempDir(), Environment: settingstest.Sample(),
		Profiles: []string{ProfileTracing, ProfileDiscovery}})
	if err != nil {
		t.Fatal(err)
	}
	checkStackShape(t, p)
}

func checkStackShape(t *testing.T, p *types.Project) {
	t.Helper()
	want := []string{settings.ServiceConnector, settings.ServiceDiscovery, settings.ServiceGrafana, settings.ServiceJaeger, settings.ServicePrometheus, settings.ServiceTigerBeetle, settings.ServiceFormat}
	if got := strings.Join(p.ServiceNames(), ","); got != strings.Join(slices.Sorted(slices.Values(want)), ",") {
		t.Fatalf("services = %s, want %v", got, want)
	}
	deps := map[[2]string]struct {
		cond     string
		required bool
	}{
		{settings.ServiceTigerBeetle, settings.ServiceFormat}:    {types.ServiceConditionCompletedSuccessfully, true},
		{settings.ServiceConnector, settings.ServiceTigerBeetle}: {types.ServiceConditionHealthy, true},
		{settings.ServicePrometheus, settings.ServiceConnector}:  {types.ServiceConditionStarted, false},
		{settings.ServiceGrafana, settings.ServicePrometheus}:    {types.ServiceConditionStarted, false},
	}
	for pair, want := range deps {
		got, ok := p.Services[pair[0]].DependsOn[pair[1]]
		if !ok || got.Condition != want.cond || got.Required != want.required {
			t.Errorf("%s depends_on %s = %+v, want %+v", pair[0], pair[1], got, want)
		}
	}
	for name, s := range p.Services {
		if name == settings.ServiceFormat {
			if s.Restart != types.RestartPolicyNo || s.HealthCheck != nil {
				t.Errorf("format one-shot: restart %q, healthcheck %v", s.Restart, s.HealthCheck)
			}
		} else {
			if s.Restart != types.RestartPolicyUnlessStopped {
				t.Errorf("%s restart = %q", name, s.Restart)
			}
			if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
				t.Errorf("%s has no health check", name)
			}
		}
		if s.Logging == nil || s.Logging.Options["max-size"] == "" {
			t.Errorf("%s has no log rotation", name)
		}
		if _, ok := s.Networks[NetworkName]; !ok {
			t.Errorf("%s is not on %s", name, NetworkName)
		}
	}
	for _, v := range []string{VolumeTigerBeetle, VolumeConnector, VolumeLogs, VolumePrometheus, VolumeGrafana} {
		if _, ok := p.Volumes[v]; !ok {
			t.Errorf("volume %s missing", v)
		}
	}
	if n, ok := p.Networks[NetworkName]; !ok || n.Driver != "bridge" {
		t.Errorf("network %s = %+v", NetworkName, n)
	}
	c := p.Services[settings.ServiceConnector]
	if c.User != "1001:1001" || !c.ReadOnly || strings.Join(c.CapDrop, ",") != "ALL" || strings.Join(c.SecurityOpt, ",") != "no-new-privileges:true" {
		t.Errorf("connector is not locked down: user %q read_only %v cap_drop %v security_opt %v", c.User, c.ReadOnly, c.CapDrop, c.SecurityOpt)
	}
	if tb := p.Services[settings.ServiceTigerBeetle]; strings.Join(tb.SecurityOpt, ",") != "seccomp=unconfined" || len(tb.CapAdd) != 0 || tb.Privileged {
		t.Errorf("tigerbeetle gets more than seccomp=unconfined: %v %v %v", tb.SecurityOpt, tb.CapAdd, tb.Privileged)
	}
	for _, name := range []string{settings.ServicePrometheus, settings.ServiceGrafana, settings.ServiceJaeger} {
		for _, port := range p.Services[name].Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %d on %q, want 127.0.0.1 only", name, port.Target, port.HostIP)
			}
		}
	}
	if !strings.HasSuffix(p.Services[settings.ServiceTigerBeetle].Image, ":"+settings.TigerBeetleRelease) {
		t.Errorf("tigerbeetle image %q is not pinned to %s", p.Services[settings.ServiceTigerBeetle].Image, settings.TigerBeetleRelease)
	}
}
