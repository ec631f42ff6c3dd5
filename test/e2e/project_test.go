package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/stack/settings"
)

// evmAddress is a well-known EIP-55 test address: settlement needs one, nothing is ever sent to it.
const evmAddress = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"

// project is one stack under test: its own directory, .env and Compose project name.
type project struct {
	t        testing.TB
	name     string
	dir      string
	envFile  string
	profiles []string
}

// wallTime logs how long the scenario took, teardown included; register it first so it runs last.
func wallTime(t *testing.T) {
	start := time.Now()
	t.Cleanup(func() { t.Logf("wall time %s: %s", t.Name(), time.Since(start).Round(100*time.Millisecond)) })
}

// projectOptions shape a project beyond the defaults every scenario shares.
type projectOptions struct {
	initArgs []string          // more `m2mctl init` flags
	settings map[string]string // .env values written after init
	profiles []string
}

// newProject writes a .env with `m2mctl init --yes`, points it at the test's images and lets Docker pick every
// host port. Nothing else is put next to the .env: `m2mctl up` writes the monitoring templates itself. t.Cleanup takes the stack down with its volumes and sweeps whatever carries the project's label.
func newProject(t testing.TB, o projectOptions) *project {
	t.Helper()
	p := &project{t: t, name: "m2me2e-" + randomHex(4), dir: t.TempDir(), profiles: o.profiles}
	p.envFile = filepath.Join(p.dir, ".env")
	t.Cleanup(p.teardown)
	// A throwaway signing key, as a file: init takes secrets only from files. It is never printed.
	keyFile := filepath.Join(t.TempDir(), "evm.key")
	if err := os.WriteFile(keyFile, []byte("0x"+randomHex(32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"init", "--yes", "--evm-private-key-file", keyFile, "--output", p.envFile, "--node-id", p.name,
		"--settlement", "evm", "--evm-address", evmAddress, "--base-rpc-url", env.evm.URL,
		"--monitoring", "on"}, o.initArgs...)
	p.mustCtl(2*time.Minute, args...)

	ledger := "memory"
	if env.images.RealTigerBeetle {
		ledger = "tigerbeetle"
	}
	settings := map[string]string{
		settings.ConnectorImage: env.images.Connector, settings.TigerBeetleImage: env.images.TigerBeetle,
		settings.PrometheusImage: env.images.Prometheus, settings.GrafanaImage: env.images.Grafana,
		// Docker picks every host port: scenarios run side by side with each other and with real nodes.
		settings.BTPPort: "0", settings.HealthCheckPort: "0", settings.PrometheusPort: "0", settings.GrafanaPort: "0", settings.DiscoveryPort: "0", settings.JaegerUIPort: "0",
		settings.Ledger: ledger, settings.TigerBeetleCacheGrid: "256MiB",
	}
	for k, v := range o.settings {
		settings[k] = v
	}
	p.set(settings)
	return p
}

// set writes values into the .env: an existing or commented-out line of the key is replaced, else appended.
func (p *project) set(values map[string]string) {
	p.t.Helper()
	b, err := os.ReadFile(p.envFile)
	if err != nil {
		p.t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for k, v := range values {
		re := regexp.MustCompile(`^(# )?` + regexp.QuoteMeta(k) + `=`)
		line, done := k+"="+v, false
		for i, l := range lines {
			if re.MatchString(l) {
				lines[i], done = line, true
				break
			}
		}
		if !done {
			lines = append(lines, line)
		}
	}
	if err := os.WriteFile(p.envFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		p.t.Fatal(err)
	}
}

// result is what one m2mctl run printed and how it exited.
type result struct {
	stdout, stderr string
	code           int
}

// ctl runs m2mctl with args (and -p/--env-file for the deploy commands), bounded by timeout.
func (p *project) ctl(timeout time.Duration, args ...string) result {
	p.t.Helper()
	switch args[0] {
	case "config":
		args = append(args, "--env-file", p.envFile)
	case "up", "plan", "upgrade":
		for _, prof := range p.profiles {
			args = append(args, "--profile", prof)
		}
		fallthrough
	case "status", "logs", "down", "backup", "restore":
		args = append(args, "-p", p.name, "--env-file", p.envFile)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.m2mctl, args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode()}
	if err != nil && r.code == 0 {
		r.code = -1
		r.stderr += "\n" + err.Error()
	}
	if args[0] != "status" { // status is polled; its outcome shows in the failure that matters
		p.t.Logf("m2mctl %s → exit %d in %s", args[0], r.code, time.Since(start).Round(100*time.Millisecond))
	}
	return r
}

// mustCtl is ctl that fails the test unless m2mctl exits 0.
func (p *project) mustCtl(timeout time.Duration, args ...string) result {
	p.t.Helper()
	r := p.ctl(timeout, args...)
	if r.code != 0 {
		p.t.Fatalf("m2mctl %s: exit %d\nstderr:\n%s\nstdout:\n%s%s", strings.Join(args, " "), r.code, r.stderr, r.stdout, p.diagnose())
	}
	return r
}

// up runs `m2mctl up` and requires it to succeed: every service healthy.
func (p *project) up() result {
	p.t.Helper()
	return p.mustCtl(4*time.Minute, "up", "--pull", "never", "--wait-timeout", "3m")
}

// statusReport is the part of `m2mctl status -o json` the scenarios read.
type statusReport struct {
	Project   string       `json:"project"`
	Healthy   bool         `json:"healthy"`
	Services  []serviceRow `json:"services"`
	Connector *struct {
		Status       string `json:"status"`
		Dependencies map[string]struct {
			Status string `json:"status"`
		} `json:"dependencies"`
		Peers struct {
			Connected  int `json:"connected"`
			Discovered int `json:"discovered"`
		} `json:"peers"`
	} `json:"connector"`
}

// serviceRow is one service in `m2mctl status -o json`.
type serviceRow struct {
	Service   string    `json:"service"`
	Container string    `json:"container"`
	State     string    `json:"state"`
	Health    string    `json:"health"`
	Restarts  int       `json:"restarts"`
	StartedAt time.Time `json:"startedAt"`
	OK        bool      `json:"ok"`
}

// status runs `m2mctl status -o json` and returns the report and the exit code (0 only when all is healthy).
func (p *project) status() (statusReport, int) {
	p.t.Helper()
	r := p.ctl(time.Minute, "status", "-o", "json")
	var rep statusReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		p.t.Fatalf("m2mctl status -o json (exit %d) printed no JSON report: %v\nstdout:\n%s\nstderr:\n%s", r.code, err, r.stdout, r.stderr)
	}
	return rep, r.code
}

// service returns the status row of name, failing the test when there is none.
func (rep statusReport) service(t testing.TB, name string) serviceRow {
	t.Helper()
	for _, s := range rep.Services {
		if s.Service == name {
			return s
		}
	}
	t.Fatalf("m2mctl status has no row for service %s: %+v", name, rep.Services)
	return serviceRow{}
}

// requireHealthy fails unless status exits 0, reports healthy, and every wanted service is OK.
func (p *project) requireHealthy(want ...string) statusReport {
	p.t.Helper()
	rep, code := p.status()
	if code != 0 || !rep.Healthy {
		p.t.Fatalf("m2mctl status: exit %d, healthy=%v, want 0 and true: %+v%s", code, rep.Healthy, rep.Services, p.diagnose())
	}
	for _, s := range want {
		if row := rep.service(p.t, s); !row.OK || row.State != "running" {
			p.t.Fatalf("service %s: state %s health %q ok=%v, want running and ok", s, row.State, row.Health, row.OK)
		}
	}
	return rep
}

// diagnose is what a failure message appends: status and the last log lines of every service.
func (p *project) diagnose() string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b strings.Builder
	for _, args := range [][]string{{"status"}, {"logs", "--tail", "15"}} {
		cmd := exec.CommandContext(ctx, env.m2mctl, append(args, "-p", p.name, "--env-file", p.envFile)...)
		cmd.Env = append(os.Environ(), "NO_COLOR=1")
		out, _ := cmd.CombinedOutput()
		fmt.Fprintf(&b, "\n--- m2mctl %s:\n%s", strings.Join(args, " "), out)
	}
	return b.String()
}

// teardown takes the stack down with its volumes, then sweeps anything left that carries the project's label.
// A leftover that Compose's label marks is a bug in down and fails the test.
func (p *project) teardown() {
	r := p.ctl(2*time.Minute, "down", "--volumes", "--yes")
	if r.code != 0 {
		p.t.Errorf("teardown: m2mctl down --volumes --yes: exit %d\n%s", r.code, r.stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if left := sweep(ctx, env.cli, p.name); len(left) > 0 && r.code == 0 {
		p.t.Errorf("m2mctl down --volumes --yes left behind (now removed): %s", strings.Join(left, ", "))
	}
}
