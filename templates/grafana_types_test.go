package templates

import (
	"encoding/json"
	"io/fs"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	grafana "github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// TestDashboardsDecodeStrictlyIntoGrafanasTypes decodes every dashboard with Grafana's own types (the
// foundation SDK, generated from Grafana's schemas) in strict mode: a misspelt or misplaced field, a missing
// required one or a wrong type fails here, where no Grafana can run. Panel options and Prometheus targets are
// checked by their plugins' types too. Our one extension, a panel's "m2mCore" mark (read by Expressions), is
// taken out first; Grafana keeps unknown panel fields in the JSON model and ignores them.
func TestDashboardsDecodeStrictlyIntoGrafanasTypes(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	names, err := fs.Glob(files, "grafana/dashboards/*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	for _, name := range names {
		raw, err := fs.ReadFile(files, name)
		if err != nil {
			t.Fatal(err)
		}
		var d grafana.Dashboard
		// The SDK returns its error list as an error even when the list is empty.
		if errs, _ := d.UnmarshalJSONStrict(withoutCoreMarks(t, raw)).(cog.BuildErrors); len(errs) > 0 {
			t.Errorf("%s does not decode strictly into Grafana's dashboard types:\n%v", name, errs)
		}
		if d.Uid == nil || *d.Uid == "" || len(d.Panels) == 0 {
			t.Errorf("%s: decoded with no uid or no panels", name)
		}
	}
}

// withoutCoreMarks returns the dashboard JSON without the panels' "m2mCore" marks, and fails t if there is
// anything else it cannot read.
func withoutCoreMarks(t *testing.T, raw []byte) []byte {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	var strip func(ps []any)
	strip = func(ps []any) {
		for _, p := range ps {
			if m, ok := p.(map[string]any); ok {
				delete(m, "m2mCore")
				if inner, ok := m["panels"].([]any); ok {
					strip(inner)
				}
			}
		}
	}
	panels, _ := d["panels"].([]any)
	strip(panels)
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
