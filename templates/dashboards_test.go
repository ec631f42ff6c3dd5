package templates

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func dashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	names, err := fs.Glob(files, "grafana/dashboards/*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no dashboards embedded under grafana/dashboards (err %v)", err)
	}
	out := map[string]dashboard{}
	for _, name := range names {
		d, err := readDashboard(name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = d
	}
	return out
}

// provisionedDatasourceUID reads the uid Grafana gives the Prometheus datasource.
func provisionedDatasourceUID(t *testing.T) string {
	t.Helper()
	data, err := fs.ReadFile(files, "grafana/provisioning/datasources/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Datasources) != 1 || doc.Datasources[0].Type != "prometheus" || doc.Datasources[0].UID == "" {
		t.Fatalf("want one prometheus datasource with a uid, got %+v", doc.Datasources)
	}
	if doc.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("datasource url %q, want http://prometheus:9090 (the prometheus service on the stack network)", doc.Datasources[0].URL)
	}
	return doc.Datasources[0].UID
}

func TestDashboardsQueryTheProvisionedDatasource(t *testing.T) {
	uid := provisionedDatasourceUID(t)
	for name, d := range dashboards(t) {
		for _, p := range d.allPanels() {
			if p.Type == "row" {
				continue
			}
			if p.Datasource.UID != uid || p.Datasource.Type != "prometheus" {
				t.Errorf("%s panel %d %q: datasource %+v, want prometheus uid %q", name, p.ID, p.Title, p.Datasource, uid)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s panel %d %q has no query", name, p.ID, p.Title)
			}
			for _, q := range p.Targets {
				if q.Datasource.UID != uid || strings.TrimSpace(q.Expr) == "" {
					t.Errorf("%s panel %d %q query %s: datasource %+v expr %q, want uid %q and an expression",
						name, p.ID, p.Title, q.RefID, q.Datasource, q.Expr, uid)
				}
			}
		}
	}
}

func TestDashboardsHaveDistinctIDsAndNonOverlappingPanels(t *testing.T) {
	uids := map[string]string{}
	for name, d := range dashboards(t) {
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: uid %q title %q, want both set (links and provisioning use the uid)", name, d.UID, d.Title)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %q", name, other, d.UID)
		}
		uids[d.UID] = name
		ids := map[int]bool{}
		taken := map[[2]int]int{} // grid cell (x, y) → panel id
		for _, p := range d.allPanels() {
			if ids[p.ID] {
				t.Errorf("%s: panel id %d used twice", name, p.ID)
			}
			ids[p.ID] = true
			g := p.GridPos
			if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
				t.Errorf("%s panel %d %q: gridPos %+v is outside Grafana's 24-column grid", name, p.ID, p.Title, g)
			}
			for x := g.X; x < g.X+g.W; x++ {
				for y := g.Y; y < g.Y+g.H; y++ {
					if other, ok := taken[[2]int{x, y}]; ok {
						t.Errorf("%s: panels %d and %d overlap at (%d,%d)", name, other, p.ID, x, y)
					}
					taken[[2]int{x, y}] = p.ID
				}
			}
		}
	}
	if len(uids) != 3 {
		t.Errorf("%d dashboards, want 3: overview, health, peering & ledger", len(uids))
	}
}

func TestOverviewMarksCorePanels(t *testing.T) {
	d := dashboards(t)["grafana/dashboards/m2m-overview.json"]
	core := 0
	for _, p := range d.allPanels() {
		if p.Core {
			core++
		}
	}
	if core < 4 {
		t.Errorf("overview marks %d panels m2mCore, want the traffic, latency, up and ready panels marked", core)
	}
}

func TestGrafanaProvisionsDashboardsFromTheMountedFolder(t *testing.T) {
	data, err := fs.ReadFile(files, "grafana/provisioning/dashboards/m2m.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Providers []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	// stack/build.go mounts templates/grafana/dashboards here.
	if len(doc.Providers) != 1 || doc.Providers[0].Type != "file" || doc.Providers[0].Options.Path != "/var/lib/grafana/dashboards" {
		t.Errorf("providers %+v, want one file provider reading /var/lib/grafana/dashboards", doc.Providers)
	}
}

func TestMaterializeWritesMissingFilesAndKeepsEdits(t *testing.T) {
	dir := t.TempDir()
	edited := filepath.Join(dir, "templates", "prometheus", "prometheus.yml")
	if err := os.MkdirAll(filepath.Dir(edited), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(edited, []byte("# operator's own\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	written, err := Materialize(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Written{}
	for _, w := range written {
		got[w.Path] = w
	}
	if w := got[edited]; w.Created || !w.Differs {
		t.Errorf("edited prometheus.yml: %+v, want kept and reported as differing", w)
	}
	if data, _ := os.ReadFile(edited); string(data) != "# operator's own\n" {
		t.Errorf("Materialize overwrote an operator's prometheus.yml")
	}
	rules := filepath.Join(dir, "templates", "prometheus", "rules", "m2m.yml")
	if w := got[rules]; !w.Created {
		t.Errorf("rules: %+v, want created", w)
	}
	if _, err := os.Stat(filepath.Join(dir, "templates", "prometheus", "tests")); err == nil {
		t.Errorf("Materialize wrote the promtool test cases to the node; they stay in the repository")
	}
	again, err := Materialize(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range again {
		if w.Created || (w.Path != edited && w.Differs) {
			t.Errorf("second Materialize: %+v, want every file kept unchanged", w)
		}
	}
}

func TestExpressionsListEveryAlertAndPanelQuery(t *testing.T) {
	exprs, err := Expressions()
	if err != nil {
		t.Fatal(err)
	}
	alerts, panels, core := map[string]bool{}, 0, 0
	for _, e := range exprs {
		if e.Alert != "" {
			alerts[e.Alert] = true
		} else {
			panels++
		}
		if e.Core {
			core++
		}
		if e.Alert == "" && e.Query == e.Expr && strings.Contains(e.Expr, "$__") {
			t.Errorf("%s: Grafana macros were not replaced in %q", e, e.Expr)
		}
	}
	if len(alerts) != len(allRules(t)) {
		t.Errorf("Expressions lists %d alerts, the rule files define %d", len(alerts), len(allRules(t)))
	}
	want := 0
	for _, d := range dashboards(t) {
		for _, p := range d.allPanels() {
			want += len(p.Targets)
		}
	}
	if panels != want || core == 0 {
		t.Errorf("Expressions lists %d panel queries (%d core), the dashboards hold %d", panels, core, want)
	}
}
