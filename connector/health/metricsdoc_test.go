package health_test

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/m2mnet/m2m/connector/metrics"
)

// TestMetricsDocListsExactlyTheDeclaredMetrics keeps docs/metrics.md, which dashboards and alerts are written
// against, equal to what connector/metrics declares: every name, with its labels.
func TestMetricsDocListsExactlyTheDeclaredMetrics(t *testing.T) {
	declared := map[string][]string{}
	m := metrics.New("v", "c", "go")
	v := reflect.ValueOf(m).Elem()
	descName := regexp.MustCompile(`fqName: "([^"]+)"`)
	descLabels := regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
	for i := range v.NumField() {
		c, ok := v.Field(i).Interface().(prometheus.Collector)
		if !ok || v.Type().Field(i).Name == "Registry" {
			continue
		}
		ch := make(chan *prometheus.Desc, 1)
		c.Describe(ch)
		d := (<-ch).String()
		name := descName.FindStringSubmatch(d)[1]
		var labels []string
		if l := descLabels.FindStringSubmatch(d); l != nil && l[1] != "" {
			labels = strings.Split(l[1], ",")
		}
		slices.Sort(labels)
		declared[name] = labels
	}

	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(m2m_[a-z_]+)` \\| [a-z]+ \\| ([^|]*) \\|")
	documented := map[string][]string{}
	for _, r := range row.FindAllStringSubmatch(string(doc), -1) {
		var labels []string
		for _, l := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(r[2], -1) {
			labels = append(labels, l[1])
		}
		slices.Sort(labels)
		documented[r[1]] = labels
	}
	for name, labels := range declared {
		got, ok := documented[name]
		switch {
		case !ok:
			t.Errorf("%s is declared in connector/metrics but not documented in docs/metrics.md", name)
		case !slices.Equal(got, labels):
			t.Errorf("%s: docs/metrics.md gives labels %v, connector/metrics declares %v", name, got, labels)
		}
	}
	for name := range documented {
		if _, ok := declared[name]; !ok {
			t.Errorf("docs/metrics.md documents %s, which connector/metrics does not declare", name)
		}
	}
	if len(declared) < 8 {
		t.Fatalf("found only %d declared metrics: %v", len(declared), declared)
	}
}
