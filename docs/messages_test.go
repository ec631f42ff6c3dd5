package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The packages whose messages the operator sees from m2mctl.
var messageSources = []string{"cmd/m2mctl", "deployer", "stack"}

// ellipsis in a documented message stands for a value the doc leaves out (an engine error), or for the rest.
const ellipsis = "…"

// TestTroubleshootingMessagesAreWhatM2mctlPrints checks the first cell of every row of a table headed
// "`m2mctl` prints": its first code span must be a message the code can print — its fixed words from the
// code's string literals and format strings, its variable parts values (no spaces) or other such messages.
func TestTroubleshootingMessagesAreWhatM2mctlPrints(t *testing.T) {
	pats, err := messagePatterns(repoRoot, messageSources)
	if err != nil {
		t.Fatal(err)
	}
	files, err := docFiles(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range documentedMessages(string(src)) {
			checked++
			if !printable(msg, pats, 2) {
				t.Errorf("%s: %q is not a message m2mctl prints; quote it as the code in %v prints it "+
					"(use %s for a value left out)", f, msg, messageSources, ellipsis)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no table headed \"`m2mctl` prints\" with messages was found in the docs")
	}
}

func TestPrintableTellsQuotedFromMisquoted(t *testing.T) {
	pats := []pattern{
		parsePattern("service %s %s"),
		parsePattern("exited with code %d"),
		parsePattern("was killed for lack of memory (OOM, exit %d): raise its memory limit"),
		parsePattern("pull %s failed: %s; check the registry"),
	}
	tests := []struct {
		msg  string
		want bool
	}{
		{"service tigerbeetle exited with code 137", true},
		{"service tigerbeetle was killed for lack of memory (OOM, exit 137): raise its memory limit", true},
		{"pull m2m/connector:0.1.0 failed: …; check the registry", true},
		{"pull m2m/connector:0.1.0 failed: …", true},
		{"service tigerbeetle exited with status 137", false},
		{"tigerbeetle exited with code 137", false},
		{"service tigerbeetle exited with code one", false},
		{"service tigerbeetle was killed (OOM): raise its memory limit", false},
	}
	for _, tt := range tests {
		if got := printable(tt.msg, pats, 2); got != tt.want {
			t.Errorf("printable(%q) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}

// pattern is a message with holes: lits are the literal parts, and verbs[i] is the format verb of the hole
// between lits[i] and lits[i+1] ('s' for a non-constant operand of a + chain).
type pattern struct {
	lits  []string
	verbs []byte
}

var verbRE = regexp.MustCompile(`%[-+# 0]*[0-9]*(\.[0-9]+)?[a-zA-Z]`)

func parsePattern(format string) pattern {
	var p pattern
	for _, v := range verbRE.FindAllString(format, -1) {
		p.verbs = append(p.verbs, v[len(v)-1])
	}
	for _, l := range verbRE.Split(format, -1) {
		p.lits = append(p.lits, strings.ReplaceAll(l, "%%", "%"))
	}
	return p
}

// messagePatterns collects every string literal, and every + chain of them, in the non-test Go files of dirs.
func messagePatterns(root string, dirs []string) ([]pattern, error) {
	var out []pattern
	fset := token.NewFileSet()
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
			if err != nil {
				return nil, err
			}
			ast.Inspect(file, func(n ast.Node) bool {
				switch e := n.(type) {
				case *ast.BinaryExpr:
					if s, ok := concat(e); ok {
						out = append(out, parsePattern(s))
						return false
					}
				case *ast.BasicLit:
					if s, err := strconv.Unquote(e.Value); err == nil && e.Kind == token.STRING {
						out = append(out, parsePattern(s))
					}
				}
				return true
			})
		}
	}
	return out, nil
}

// concat folds a + chain that holds a string literal; other operands become %s holes.
func concat(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		s, err := strconv.Unquote(e.Value)
		return s, err == nil && e.Kind == token.STRING
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "%s", false
		}
		l, lok := concat(e.X)
		r, rok := concat(e.Y)
		return l + r, lok || rok
	}
	return "%s", false
}

// printable reports whether msg is what one of pats prints, with each hole a value (digits for %d, no
// spaces otherwise), the ellipsis, or (depth permitting) a message printable itself.
func printable(msg string, pats []pattern, depth int) bool {
	for _, p := range pats {
		if len(strings.Join(p.lits, "")) >= 6 && matchParts(msg, p, 0, pats, depth) {
			return true
		}
	}
	return false
}

// matchParts matches s against p from its i-th literal on.
func matchParts(s string, p pattern, i int, pats []pattern, depth int) bool {
	lit := p.lits[i]
	if head, ok := strings.CutSuffix(s, ellipsis); ok && strings.HasPrefix(lit, head) {
		return true // the doc elides the rest
	}
	if !strings.HasPrefix(s, lit) {
		return false
	}
	s = s[len(lit):]
	if i == len(p.verbs) {
		return s == ""
	}
	next := p.lits[i+1]
	// The hole takes s[:k]; try each k where the next literal part (or the ellipsis) begins.
	for k := 1; k <= len(s); k++ {
		rest := s[k:]
		if !mayStart(rest, next) {
			continue
		}
		if !holeOK(s[:k], p.verbs[i], pats, depth) {
			continue
		}
		if rest == "" && strings.HasSuffix(s, ellipsis) {
			return true // the hole ends in the ellipsis, which stands for the rest
		}
		if matchParts(rest, p, i+1, pats, depth) {
			return true
		}
	}
	return false
}

// mayStart reports whether rest can be the next literal part and what follows: it begins with lit, or it
// is lit elided (a prefix of lit, then the ellipsis), or it begins with the ellipsis, or it is empty.
func mayStart(rest, lit string) bool {
	if rest == "" || strings.HasPrefix(rest, lit) || strings.HasPrefix(rest, ellipsis) {
		return true
	}
	head, ok := strings.CutSuffix(rest, ellipsis)
	return ok && strings.HasPrefix(lit, head)
}

var digitsRE = regexp.MustCompile(`^-?[0-9]+$`)

func holeOK(h string, verb byte, pats []pattern, depth int) bool {
	switch {
	case h == ellipsis:
		return true
	case verb == 'd':
		return digitsRE.MatchString(h)
	case !strings.ContainsAny(h, " \n"):
		return true
	}
	return depth > 0 && printable(h, pats, depth-1)
}

// documentedMessages are the first code spans of the first cells of tables headed "`m2mctl` prints".
func documentedMessages(src string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(withoutCode(src), "\n") {
		if !strings.HasPrefix(line, "|") {
			in = false
			continue
		}
		cells := strings.Split(line, " | ")
		first := strings.TrimSpace(strings.TrimPrefix(cells[0], "|"))
		switch {
		case first == "`m2mctl` prints":
			in = true
		case in && !strings.HasPrefix(first, "---"):
			if m := codeSpanRE.FindStringSubmatch(first); m != nil {
				out = append(out, strings.TrimSpace(m[1]+m[2]))
			}
		}
	}
	return out
}

// codeSpanRE is the first code span: “…“ (which may hold a backtick) or `…`.
var codeSpanRE = regexp.MustCompile("^``(.+?)``|^`([^`]+)`")
