package templates

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// metricsDir holds the package that declares every m2m_* metric (connector/metrics).
const metricsDir = "../connector/metrics"

// exported describes one metric family declared in connector/metrics.
type exported struct {
	kind   string // Counter, Gauge, Histogram, Summary
	labels []string
}

// declaredMetrics reads the metric declarations out of connector/metrics' source: every
// prometheus.New{Counter,Gauge,Histogram,Summary}[Vec](Opts{Name: …}, []string{labels…}) call.
func declaredMetrics(t *testing.T) map[string]exported {
	t.Helper()
	fset := token.NewFileSet()
	paths, _ := filepath.Glob(filepath.Join(metricsDir, "*.go"))
	out := map[string]exported{}
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		consts := stringConsts(f)
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			kind, ok := strings.CutPrefix(sel.Sel.Name, "New")
			kind = strings.TrimSuffix(kind, "Vec")
			if !ok || !slices.Contains([]string{"Counter", "Gauge", "Histogram", "Summary"}, kind) {
				return true
			}
			opts, ok := call.Args[0].(*ast.CompositeLit)
			if !ok {
				return true
			}
			name := optsName(t, fset, opts, consts)
			var labels []string
			if len(call.Args) > 1 {
				if lit, ok := call.Args[1].(*ast.CompositeLit); ok {
					for _, e := range lit.Elts {
						labels = append(labels, stringValue(t, fset, e, consts))
					}
				}
			}
			out[name] = exported{kind: kind, labels: labels}
			return true
		})
	}
	if len(out) == 0 {
		t.Fatalf("found no metric declarations in %s", metricsDir)
	}
	return out
}

func stringConsts(f *ast.File) map[string]string {
	out := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						out[n.Name], _ = strconv.Unquote(lit.Value)
					}
				}
			}
		}
	}
	return out
}

func stringValue(t *testing.T, fset *token.FileSet, e ast.Expr, consts map[string]string) string {
	t.Helper()
	switch v := e.(type) {
	case *ast.BasicLit:
		s, err := strconv.Unquote(v.Value)
		if err == nil {
			return s
		}
	case *ast.Ident:
		if s, ok := consts[v.Name]; ok {
			return s
		}
	}
	t.Fatalf("%s: a metric name or label that is not a string literal or constant; teach declaredMetrics to read it", fset.Position(e.Pos()))
	return ""
}

func optsName(t *testing.T, fset *token.FileSet, opts *ast.CompositeLit, consts map[string]string) string {
	t.Helper()
	var parts []string
	for _, field := range []string{"Namespace", "Subsystem", "Name"} {
		for _, e := range opts.Elts {
			kv, ok := e.(*ast.KeyValueExpr)
			if k, _ := kv.Key.(*ast.Ident); ok && k != nil && k.Name == field {
				if s := stringValue(t, fset, kv.Value, consts); s != "" {
					parts = append(parts, s)
				}
			}
		}
	}
	return strings.Join(parts, "_")
}

// selector is a metric name and the label names its matchers use.
type selector struct {
	metric string
	labels []string
}

// scanPromQL finds the metric selectors and the by/without/on/ignoring/group_* label names in a PromQL
// expression. It is a lexer, not a parser: enough to check names, while the real Prometheus in
// TestExpressionsRunOnRealPrometheus checks the syntax.
func scanPromQL(expr string) (sels []selector, grouping []string) {
	keywords := map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true, "atan2": true}
	// Aggregations may put "by (…)" between their name and "(", so they are not known by the parenthesis.
	for _, agg := range []string{"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"} {
		keywords[agg] = true
	}
	groupers := map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
	r := []rune(expr)
	i := 0
	skipSpace := func() {
		for i < len(r) && unicode.IsSpace(r[i]) {
			i++
		}
	}
	ident := func() string {
		start := i
		for i < len(r) && (r[i] == '_' || r[i] == ':' || unicode.IsLetter(r[i]) || unicode.IsDigit(r[i])) {
			i++
		}
		return string(r[start:i])
	}
	skipString := func() {
		q := r[i]
		for i++; i < len(r) && r[i] != q; i++ {
			if r[i] == '\\' && q != '`' {
				i++
			}
		}
		i++
	}
	// labelList reads "(a, b)" and returns the names; matchers reads "{a="x", b!~"y"}".
	labelList := func(closer rune) []string {
		var names []string
		for i++; i < len(r) && r[i] != closer; {
			switch {
			case r[i] == '"' || r[i] == '\'' || r[i] == '`':
				skipString()
			case r[i] == '_' || unicode.IsLetter(r[i]):
				names = append(names, ident())
			default:
				i++
			}
		}
		i++
		return names
	}
	for i < len(r) {
		c := r[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '"' || c == '\'' || c == '`':
			skipString()
		case c == '#':
			for i < len(r) && r[i] != '\n' {
				i++
			}
		case c == '[':
			for i < len(r) && r[i] != ']' {
				i++
			}
		case c == '{': // a selector without a name before it
			sels = append(sels, selector{labels: labelList('}')})
		case unicode.IsDigit(c) || c == '.':
			for i < len(r) && (unicode.IsLetter(r[i]) || unicode.IsDigit(r[i]) || r[i] == '.') {
				i++
			}
		case c == '_' || c == ':' || unicode.IsLetter(c):
			word := ident()
			skipSpace()
			next := rune(0)
			if i < len(r) {
				next = r[i]
			}
			switch {
			case groupers[strings.ToLower(word)]:
				if next == '(' {
					grouping = append(grouping, labelList(')')...)
				}
			case keywords[strings.ToLower(word)]:
			case next == '(': // a function or an aggregation
			case next == '{':
				sels = append(sels, selector{metric: word, labels: labelList('}')})
			default:
				sels = append(sels, selector{metric: word})
			}
		default:
			i++
		}
	}
	return sels, grouping
}

func TestScanPromQLFindsMetricsAndLabels(t *testing.T) {
	sels, grouping := scanPromQL(`histogram_quantile(0.99, sum by (job, le) (rate(m2m_x_bucket{job="c", code=~"T0[14]|{x}"}[5m])))
		/ on (instance) group_left (version) m2m_build_info > bool 1e3 and time() - process_start_time_seconds offset 5m or vector(0)`)
	var metrics []string
	for _, s := range sels {
		metrics = append(metrics, s.metric)
	}
	if want := []string{"m2m_x_bucket", "m2m_build_info", "process_start_time_seconds"}; !slices.Equal(metrics, want) {
		t.Errorf("metrics %v, want %v", metrics, want)
	}
	if want := []string{"job", "code"}; !slices.Equal(sels[0].labels, want) {
		t.Errorf("matcher labels %v, want %v", sels[0].labels, want)
	}
	if want := []string{"job", "le", "instance", "version"}; !slices.Equal(grouping, want) {
		t.Errorf("grouping labels %v, want %v", grouping, want)
	}
}

// standardMetric reports names that come from Prometheus itself or client_golang's Go and process collectors.
func standardMetric(name string) bool {
	switch name {
	case "up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS", "ALERTS_FOR_STATE":
		return true
	}
	return strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "go_")
}

// resolve maps a series name to its declared family (a histogram's _bucket, _sum and _count included).
func resolve(declared map[string]exported, series string) (string, exported, bool) {
	if m, ok := declared[series]; ok {
		return series, m, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(series, suffix)
		if m, found := declared[base]; ok && found && (m.kind == "Histogram" || (m.kind == "Summary" && suffix != "_bucket")) {
			return base, m, true
		}
	}
	return "", exported{}, false
}

func TestExpressionsUseOnlyExportedMetricsAndLabels(t *testing.T) {
	declared := declaredMetrics(t)
	exprs, err := Expressions()
	if err != nil {
		t.Fatal(err)
	}
	targetLabels := []string{"job", "instance"}
	for _, e := range exprs {
		sels, grouping := scanPromQL(e.Query)
		if len(sels) == 0 {
			t.Errorf("%s: %q selects no metric", e, e.Query)
		}
		known := slices.Clone(targetLabels)
		onlyOurs := true
		for _, s := range sels {
			if s.metric == "" {
				t.Errorf("%s: a selector without a metric name in %q", e, e.Query)
				continue
			}
			if standardMetric(s.metric) {
				onlyOurs = false
				continue
			}
			base, m, ok := resolve(declared, s.metric)
			if !ok {
				t.Errorf("%s: metric %s is not declared in connector/metrics", e, s.metric)
				continue
			}
			labels := append(slices.Clone(targetLabels), m.labels...)
			if strings.HasSuffix(s.metric, "_bucket") {
				labels = append(labels, "le")
			}
			for _, l := range s.labels {
				if !slices.Contains(labels, l) {
					t.Errorf("%s: %s has no label %q (it has %v)", e, base, l, labels)
				}
			}
			known = append(known, labels...)
		}
		if onlyOurs {
			for _, l := range grouping {
				if !slices.Contains(known, l) {
					t.Errorf("%s: groups by %q, which none of its metrics carries (%v)", e, l, known)
				}
			}
		}
		if strings.Contains(e.Query, "$") {
			t.Errorf("%s: %q still holds a Grafana variable after macro replacement", e, e.Query)
		}
	}
}
