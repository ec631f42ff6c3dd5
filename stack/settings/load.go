package settings

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration, said so that the operator can fix it.
type Problem struct {
	Key   string
	Line  int    // 1-based line in the .env; 0 when the key is missing or came from the environment
	Value string // as given; "" for secrets, which are never repeated
	Msg   string // what is wrong and what a valid value looks like
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	b.WriteString(p.Key)
	if p.Value != "" {
		fmt.Fprintf(&b, "=%s", p.Value)
	}
	b.WriteString(": ")
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in one configuration; it is returned as an error.
type Problems struct {
	Source string // the file, or "environment"
	List   []Problem
}

func (ps *Problems) Error() string {
	var b strings.Builder
	noun := "problems"
	if len(ps.List) == 1 {
		noun = "problem"
	}
	fmt.Fprintf(&b, "%s has %d %s:", ps.Source, len(ps.List), noun)
	for _, p := range ps.List {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// entry is one KEY=VALUE read from a .env, with where it was.
type entry struct {
	value string
	line  int
	as    string // the name written, when it is an alias of the setting
}

// Load reads the .env at path and returns its validated values, or a *Problems naming every problem at once.
func Load(path string) (Values, error) {
	v, _, err := LoadWithNotices(path)
	return v, err
}

// LoadWithNotices is Load that also returns the notices: settings read under an alias, values to reconsider.
// The alias notices come with the problems too: another stack's .env is told which of its names m2m reads.
func LoadWithNotices(path string) (Values, []Notice, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s does not exist; run `m2mctl init` to write one, or pass --env-file", path)
		}
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	entries, problems := parseDotenv(f)
	v, err := validate(path, entries, problems)
	if err != nil {
		return nil, notices(entries, nil), err
	}
	ns := notices(entries, v)
	if fi, err := f.Stat(); err == nil {
		if n, ok := exposedSecrets(path, fi.Mode(), entries); ok {
			ns = append(ns, n)
		}
	}
	return v, ns, nil
}

// exposedSecrets is a notice (not a problem: the node still runs) when a .env holding secrets can be read by
// group or others, with the command that fixes it.
func exposedSecrets(path string, mode os.FileMode, entries map[string]entry) (Notice, bool) {
	if runtime.GOOS == "windows" || mode.Perm()&0o077 == 0 {
		return Notice{}, false
	}
	var secrets []string
	for _, s := range Schema() {
		if e, ok := entries[s.Name]; ok && s.Secret && strings.TrimSpace(e.value) != "" {
			secrets = append(secrets, s.Name)
		}
	}
	if len(secrets) == 0 {
		return Notice{}, false
	}
	return Notice{Key: path, Msg: fmt.Sprintf("holds secrets (%s) and is readable by group or others (mode %04o); run: chmod 600 %s",
		strings.Join(secrets, ", "), mode.Perm(), path)}, true
}

// FromEnviron validates settings taken from a process environment (KEY=VALUE strings, as os.Environ gives).
// Keys that are not settings are ignored.
func FromEnviron(environ []string) (Values, error) {
	return FromEnvironFor(environ, nil)
}

// FromEnvironFor is FromEnviron for one process of the stack: only the settings that concern tells it about
// are read, checked and required; the others keep their defaults. A container receives only its own settings,
// so a rule about another service's (GRAFANA_PASSWORD required while monitoring is on) must not fail it.
// A nil concern means every setting.
func FromEnvironFor(environ []string, concerns func(Setting) bool) (Values, error) {
	entries := map[string]entry{}
	environ, problems := secretFiles(aliasedEnviron(environ))
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if s, known := Lookup(k); ok && known && (concerns == nil || concerns(s)) {
			entries[k] = entry{value: v}
		}
	}
	return validateSome("environment", entries, problems, concerns)
}

// Parse validates values given as a map (the wizard's answers); problems carry no line numbers.
func Parse(raw map[string]string) (Values, error) {
	entries := make(map[string]entry, len(raw))
	for k, v := range raw {
		entries[k] = entry{value: v}
	}
	return validate("settings", entries, nil)
}

func validate(source string, entries map[string]entry, problems []Problem) (Values, error) {
	return validateSome(source, entries, problems, nil)
}

func validateSome(source string, entries map[string]entry, problems []Problem, concerns func(Setting) bool) (Values, error) {
	schema := Schema()
	values := Values{}
	for _, s := range schema {
		values[s.Name] = s.Default
		if e, ok := entries[s.Name]; ok && strings.TrimSpace(e.value) != "" {
			values[s.Name] = strings.TrimSpace(e.value)
		}
	}
	for _, s := range schema {
		if concerns != nil && !concerns(s) {
			continue
		}
		e := entries[s.Name]
		v := values[s.Name]
		switch {
		case v == "" && s.Required(values):
			problems = append(problems, Problem{Key: s.Name, Line: e.line, Msg: missingMsg(s)})
		case v != "":
			if err := s.Check(v); err != nil {
				shown := v
				if s.Secret {
					shown = ""
				}
				problems = append(problems, Problem{Key: s.Name, Line: e.line, Value: shown, Msg: err.Error() + exampleHint(s)})
			}
		}
	}
	problems = append(problems, crossChecks(values, entries)...)
	if len(problems) > 0 {
		sortProblems(problems)
		return nil, &Problems{Source: source, List: problems}
	}
	return values, nil
}

func missingMsg(s Setting) string {
	if s.Generated {
		return "is required and missing; run `m2mctl init` (or `m2mctl init --force` to redo the .env)"
	}
	return "is required and missing: " + s.Doc + exampleHint(s)
}

func exampleHint(s Setting) string {
	if s.Example == "" || s.Secret || strings.HasPrefix(s.Example, "<") {
		return ""
	}
	return " (e.g. " + s.Example + ")"
}

// crossChecks finds problems that involve more than one setting.
func crossChecks(v Values, entries map[string]entry) []Problem {
	var out []Problem
	ports := map[string]string{} // port -> first setting using it
	for _, name := range []string{BTPPort, HealthCheckPort, PrometheusPort, GrafanaPort, JaegerUIPort, DiscoveryPort} {
		p := v[name]
		if p == "" || p == "0" || validPort(p) != nil {
			continue
		}
		if other, dup := ports[p]; dup {
			out = append(out, Problem{Key: name, Line: entries[name].line, Value: p,
				Msg: fmt.Sprintf("is the same host port as %s; give each its own", other)})
			continue
		}
		ports[p] = name
	}
	return append(out, clusterChecks(v, entries)...)
}

func sortProblems(ps []Problem) {
	order := map[string]int{}
	for i, s := range Schema() {
		order[s.Name] = i
	}
	// Problems with lines in file order first, then missing keys in schema order.
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line != 0 {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return cmp.Compare(order[a.Key], order[b.Key])
	})
}

// parseDotenv reads a .env (see ReadRaw) and keeps the settings m2m knows, each under its own name.
func parseDotenv(r io.Reader) (map[string]entry, []Problem) {
	raw, problems := ReadRaw(r)
	entries := map[string]entry{}
	for _, e := range raw {
		name, known := Canonical(e.Key)
		if !known {
			problems = append(problems, Problem{Key: e.Key, Line: e.Line, Msg: unknownKeyMsg(e.Key)})
			continue
		}
		if prev, dup := entries[name]; dup {
			problems = append(problems, Problem{Key: e.Key, Line: e.Line, Msg: duplicateMsg(e.Key, name, prev)})
			continue
		}
		entries[name] = entry{value: e.Value, line: e.Line, as: e.Key}
	}
	return entries, problems
}

// RawEntry is one KEY=VALUE line of a .env as written, whatever the key.
type RawEntry struct {
	Key, Value string
	Line       int
}

// ReadRaw reads KEY=VALUE lines without judging the keys (another stack's .env is read with it too): blank
// lines and # comments are skipped, an optional `export ` prefix is allowed, and a value may be wrapped in
// single or double quotes (double quotes understand \n, \" and \\).
func ReadRaw(r io.Reader) ([]RawEntry, []Problem) {
	var entries []RawEntry
	var problems []Problem
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		if n == 1 {
			// Windows editors may start a UTF-8 file with a byte order mark; it is not part of the first key.
			text = strings.TrimPrefix(text, "\ufeff")
		}
		line := strings.TrimSpace(text)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, raw, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			problems = append(problems, Problem{Key: "(syntax)", Line: n, Msg: "is not KEY=VALUE; fix or comment out the line with #"})
			continue
		}
		value, err := unquote(strings.TrimSpace(raw))
		if err != nil {
			problems = append(problems, Problem{Key: key, Line: n, Msg: err.Error()})
			continue
		}
		entries = append(entries, RawEntry{Key: key, Value: value, Line: n})
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, Problem{Key: "(file)", Msg: "could not be read: " + err.Error()})
	}
	return entries, problems
}

func unquote(v string) (string, error) {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1], nil
	}
	if len(v) >= 1 && v[0] == '"' {
		s, err := strconv.Unquote(v)
		if err != nil {
			return "", errors.New("has an unterminated or malformed double-quoted value")
		}
		return s, nil
	}
	if i := strings.Index(v, " #"); i >= 0 { // inline comment after an unquoted value
		v = strings.TrimSpace(v[:i])
	}
	return v, nil
}

// suggest names the closest known setting, for typos.
func suggest(key string) string {
	best, bestD := "", 4
	for _, s := range Schema() {
		if d := distance(strings.ToUpper(key), s.Name); d < bestD {
			best, bestD = s.Name, d
		}
	}
	if best == "" {
		return "; remove it"
	}
	return "; did you mean " + best + "?"
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
