package templates

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/m2mnet/m2m/internal/testenv"
)

// requireBinary finds a Prometheus tool on PATH. Without it the test is skipped, unless
// M2M_REQUIRE_DOCKER=1 (as in CI, which installs Debian's prometheus package) makes that a failure.
func requireBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	testenv.Skip(t, "%s is not installed (apt-get install prometheus)", name)
	return ""
}

// materialized writes the embedded templates to a temp dir, as a node would get them, and returns
// the prometheus folder.
func materialized(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := Materialize(dir); err != nil {
		t.Fatalf("Materialize: %v", err)
	}
	return filepath.Join(dir, "templates", "prometheus")
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// mountedRules is where prometheus.yml expects the rules inside the container (stack/build.go mounts
// templates/prometheus at /etc/prometheus).
const mountedRules = "/etc/prometheus/rules/*.yml"

// withRulesAt returns the shipped prometheus.yml with its rule_files pointed at dir.
func withRulesAt(t *testing.T, promDir, rulesDir string) []byte {
	t.Helper()
	cfg, err := os.ReadFile(filepath.Join(promDir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(cfg, []byte(mountedRules)) {
		t.Fatalf("prometheus.yml does not load %s, where the stack mounts the rules", mountedRules)
	}
	return bytes.ReplaceAll(cfg, []byte(mountedRules), []byte(filepath.Join(rulesDir, "*.yml")))
}

func TestPromtoolAcceptsConfigAndRules(t *testing.T) {
	promtool := requireBinary(t, "promtool")
	dir := materialized(t)
	cfg := filepath.Join(dir, "prometheus-local.yml")
	if err := os.WriteFile(cfg, withRulesAt(t, dir, filepath.Join(dir, "rules")), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run(t, dir, promtool, "check", "config", cfg)
	rules, _ := filepath.Glob(filepath.Join(dir, "rules", "*.yml"))
	if len(rules) == 0 {
		t.Fatal("no rule files were materialized under prometheus/rules")
	}
	// check config also checks the rule files it loads; make sure it found them.
	for _, r := range rules {
		if !strings.Contains(out, r) {
			t.Errorf("promtool check config did not load %s:\n%s", r, out)
		}
	}
	run(t, dir, promtool, append([]string{"check", "rules"}, rules...)...)
}

func TestPromtoolRuleTestsPass(t *testing.T) {
	promtool := requireBinary(t, "promtool")
	dir := materialized(t)
	// The cases live only in the repository; run them against the materialized rules, which are what ships.
	cases, _ := filepath.Glob(filepath.Join("prometheus", "tests", "*.yml"))
	if len(cases) == 0 {
		t.Fatal("no promtool test cases in prometheus/tests")
	}
	if err := os.MkdirAll(filepath.Join(dir, "tests"), 0o755); err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, c := range cases {
		data, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, "tests", filepath.Base(c))
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, dst)
	}
	out := run(t, dir, promtool, append([]string{"test", "rules"}, args...)...)
	if strings.Count(out, "SUCCESS") != len(args) {
		t.Errorf("promtool test rules did not report SUCCESS for each of %d files:\n%s", len(args), out)
	}
}

// ruleTests is the part of a promtool test file that says which alerts are expected when.
type ruleTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name  string `yaml:"name"`
		Cases []struct {
			EvalTime  string `yaml:"eval_time"`
			AlertName string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `yaml:"exp_labels"`
				ExpAnnotations map[string]string `yaml:"exp_annotations"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func TestEveryAlertHasCasesThatFireAndThenResolve(t *testing.T) {
	cases, _ := filepath.Glob(filepath.Join("prometheus", "tests", "*.yml"))
	type seen struct{ fired, resolvedAfter bool }
	byAlert := map[string]*seen{}
	for _, c := range cases {
		data, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		var rt ruleTests
		if err := yaml.Unmarshal(data, &rt); err != nil {
			t.Fatalf("parse %s: %v", c, err)
		}
		for _, tc := range rt.Tests {
			var firedAt time.Duration = -1
			for _, ac := range tc.Cases {
				at, err := time.ParseDuration(ac.EvalTime)
				if err != nil {
					t.Fatalf("%s %q: eval_time %q: %v", c, tc.Name, ac.EvalTime, err)
				}
				s := byAlert[ac.AlertName]
				if s == nil {
					s = &seen{}
					byAlert[ac.AlertName] = s
				}
				switch {
				case len(ac.ExpAlerts) > 0:
					s.fired, firedAt = true, at
					for _, a := range ac.ExpAlerts {
						if a.ExpAnnotations["runbook_url"] == "" {
							t.Errorf("%s %q: expected %s alert at %s lists no annotations; list them all so their templates are tested",
								c, tc.Name, ac.AlertName, ac.EvalTime)
						}
					}
				case firedAt >= 0 && at > firedAt:
					s.resolvedAfter = true
				}
			}
		}
	}
	groups, err := readRules("prometheus/rules/m2m.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			s := byAlert[r.Alert]
			if s == nil || !s.fired || !s.resolvedAfter {
				t.Errorf("alert %s needs a promtool case in prometheus/tests where it fires and a later eval_time where it has resolved", r.Alert)
			}
		}
	}
}
