package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

// envComposeBin names a Compose v2 binary; the parity scenario needs one and skips without it.
const envComposeBin = "M2M_COMPOSE_BIN"

// The YAML m2mctl emits, deployed by plain `docker compose up -d --wait`, gives the same healthy services as
// `m2mctl up`, and m2mctl status and down work on the stack Compose made. Switching tools recreates nothing,
// in either direction: both compute Compose's own config hash.
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
	if out, err := p.compose(bin, file, "up", "-d", "--wait", "--pull", "never", "--wait-timeout", "180"); err != nil {
		hint := ""
		if strings.Contains(out, "bind source path does not exist") {
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

	// Compose made it; m2mctl keeps every container.
	byCompose := p.containerIDs()
	plan := p.plan()
	for _, s := range plan.Services {
		if s.Action != deployer.ActionKeep {
			t.Errorf("m2mctl plan on the stack Compose made: %s %s (%s), want keep", s.Service, s.Action, s.Reason)
		}
	}
	p.hashesAgree(plan)
	p.up()
	p.sameContainers("m2mctl up after docker compose up", byCompose, p.containerIDs())

	// m2mctl makes it; Compose keeps every container.
	p.mustCtl(2*time.Minute, "down")
	p.up()
	byM2mctl := p.containerIDs()
	out, err := p.compose(bin, file, "up", "-d", "--wait", "--pull", "never", "--wait-timeout", "180")
	if err != nil {
		t.Fatalf("docker compose up -d --wait on the stack m2mctl made: %v\n%s%s", err, out, p.diagnose())
	}
	p.sameContainers("docker compose up after m2mctl up", byM2mctl, p.containerIDs())
	if strings.Contains(out, "Recreate") {
		t.Errorf("docker compose up on the stack m2mctl made recreated containers:\n%s", out)
	}
}

// compose runs the Compose binary on file for this project, bounded, from the project's directory.
func (p *project) compose(bin, file string, args ...string) (string, error) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-f", file, "-p", p.name, "--env-file", p.envFile}, args...)...)
	cmd.Dir = p.dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	p.t.Logf("docker compose %s → %v in %s", strings.Join(args, " "), err, time.Since(start).Round(100*time.Millisecond))
	return string(out), err
}

// plan runs `m2mctl plan -o json`.
func (p *project) plan() deployer.Plan {
	p.t.Helper()
	r := p.mustCtl(time.Minute, "plan", "--pull", "never", "-o", "json")
	var plan deployer.Plan
	if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil {
		p.t.Fatalf("m2mctl plan -o json printed no plan: %v\n%s", err, r.stdout)
	}
	return plan
}

// hashesAgree checks each container's config-hash label, as its maker wrote it, against the hash in the plan.
func (p *project) hashesAgree(plan deployer.Plan) {
	p.t.Helper()
	agree := 0
	for _, s := range plan.Services {
		c := p.container(s.Service)
		if label := c.Labels[deployer.LabelConfigHash]; label != s.Hash {
			p.t.Errorf("service %s: Compose's config-hash label %s, m2mctl computes %s", s.Service, label, s.Hash)
			continue
		}
		agree++
	}
	p.t.Logf("config hash: %d of %d services agree with the labels Compose wrote", agree, len(plan.Services))
}

// containerIDs maps each service of the project to its container's ID.
func (p *project) containerIDs() map[string]string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	obs, err := p.observe(ctx)
	if err != nil {
		p.t.Fatalf("observe project %s: %v", p.name, err)
	}
	ids := map[string]string{}
	for svc, cs := range obs.Containers {
		for _, c := range cs {
			ids[svc] += c.ID
		}
	}
	return ids
}

// sameContainers fails for every service whose container is not the one it was before.
func (p *project) sameContainers(what string, before, after map[string]string) {
	p.t.Helper()
	if len(before) == 0 {
		p.t.Fatalf("%s: no containers to compare", what)
	}
	kept := 0
	for svc, id := range before {
		if after[svc] != id {
			p.t.Errorf("%s: service %s container %.12s → %.12s, want it kept", what, svc, id, after[svc])
			continue
		}
		kept++
	}
	if len(after) != len(before) {
		p.t.Errorf("%s: %d services before, %d after", what, len(before), len(after))
	}
	p.t.Logf("%s: %d of %d containers kept", what, kept, len(before))
}
