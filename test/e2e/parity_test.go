package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/m2mnet/m2m/stack"
)

// envComposeBin names a Compose v2 binary; the parity scenario needs one and skips without it.
const envComposeBin = "M2M_COMPOSE_BIN"

// The YAML m2mctl emits, deployed by plain `docker compose up -d --wait`, gives the same healthy services as
// `m2mctl up`, and m2mctl status and down work on the stack Compose made.
func TestParityComposeUpWaitRunsTheEmittedYAML(t *testing.T) {
	bin := os.Getenv(envComposeBin)
	if bin == "" {
		t.Skipf("set %s to a Compose v2 binary to compare with docker compose", envComposeBin)
	}
	wallTime(t)
	p := newProject(t, projectOptions{})
	yaml := p.mustCtl(time.Minute, "config").stdout
	file := filepath.Join(p.dir, stack.ComposeFile)
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(yaml, env.images.Connector) {
		t.Errorf("the emitted YAML holds the connector image %s from .env: values must stay ${VAR} references", env.images.Connector)
	}

	// Nothing is added next to the .env here: `m2mctl init` prepared what the YAML bind-mounts (templates/,
	// config/), which is all an operator has before running Compose.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-f", file, "-p", p.name, "--env-file", p.envFile,
		"up", "-d", "--wait", "--pull", "never", "--wait-timeout", "180")
	cmd.Dir = p.dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("docker compose up -d --wait → %v in %s", err, time.Since(start).Round(100*time.Millisecond))
	if err != nil {
		hint := ""
		if strings.Contains(string(out), "bind source path does not exist") {
			hint = "\nA bind-mounted directory next to the .env is missing: m2mctl init should have made it."
		}
		t.Fatalf("docker compose up -d --wait: %v\n%s%s%s", err, out, hint, p.diagnose())
	}

	rep := p.requireHealthy(running...)
	var got []string
	for _, s := range rep.Services {
		got = append(got, s.Service)
	}
	sort.Strings(got)
	want := append([]string{settings.ServiceFormat}, running...)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("m2mctl status sees services %v on the Compose-made stack, want %v", got, want)
	}
	if f := rep.service(t, settings.ServiceFormat); !f.OK {
		t.Errorf("%s under Compose: state %s, want completed", settings.ServiceFormat, f.State)
	}
	waitConnectorScraped(t, "http://"+p.hostAddr(settings.ServicePrometheus, "9090/tcp"))
	if _, size, ok := p.dataFile(stack.DataFile); !ok || size == 0 {
		t.Errorf("the format under Compose left no %s (present=%v, size %d)", stack.DataFile, ok, size)
	}
}
