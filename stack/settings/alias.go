package settings

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Notice is something about a configuration worth one line that is not a problem: a setting read under another
// name, or a value accepted that a new node had better not use.
type Notice struct {
	Key  string // the name as written
	Line int    // 1-based line in the .env; 0 when not from a file
	Msg  string
}

func (n Notice) String() string {
	if n.Line > 0 {
		return fmt.Sprintf("line %d: %s %s", n.Line, n.Key, n.Msg)
	}
	return n.Key + " " + n.Msg
}

// Canonical returns the setting name that name spells: name itself, or the setting it is an alias of.
func Canonical(name string) (canonical string, known bool) {
	for _, s := range Schema() {
		if s.Name == name {
			return name, true
		}
		for _, a := range s.Aliases {
			if a == name {
				return s.Name, true
			}
		}
	}
	return "", false
}

// retired names settings m2m no longer has, with what replaced them: a .env that still has one gets a problem
// that says what to write instead, not "not a setting m2m knows".
var retired = map[string]string{
	"AWS_KMS_KEY_ID":   "was replaced by one key per chain: AWS_KMS_EVM_KEY_ID and AWS_KMS_XRP_KEY_ID; rename it to the chain's",
	"GCP_KMS_KEY_NAME": "was replaced by GCP_KMS_LOCATION, GCP_KMS_KEYRING and one key per chain (GCP_KMS_EVM_KEY, GCP_KMS_XRP_KEY); split the resource name into them",
	"AZURE_KEY_NAME":   "was replaced by one key per chain: AZURE_EVM_KEY_NAME and AZURE_XRP_KEY_NAME; rename it to the chain's",
}

// unknownKeyMsg says why key is refused: a retired name and its replacement, or the closest known setting.
func unknownKeyMsg(key string) string {
	if msg, ok := retired[key]; ok {
		return msg
	}
	return "is not a setting m2m knows" + suggest(key)
}

// duplicateMsg says that a line sets a setting an earlier line already set, under the same name or another.
func duplicateMsg(name, canonical string, prev entry) string {
	switch {
	case prev.as == name:
		return fmt.Sprintf("is set twice (first on line %d); keep one", prev.line)
	case name == canonical:
		return fmt.Sprintf("is also set on line %d as %s, another name of the same setting; keep one line (%s)", prev.line, prev.as, canonical)
	default:
		return fmt.Sprintf("is another name of %s, which line %d sets too; keep one line (%s)", canonical, prev.line, canonical)
	}
}

// notices lists, in line order, the settings read under an alias and the values a new node had better not use.
func notices(entries map[string]entry, v Values) []Notice {
	var out []Notice
	for _, s := range Schema() {
		e, ok := entries[s.Name]
		if ok && e.as != "" && e.as != s.Name {
			out = append(out, Notice{Key: e.as, Line: e.line, Msg: "is read as " + s.Name + " (its name in m2m); rename it when convenient"})
		}
	}
	if v[TigerBeetleClusterID] == "0" {
		out = append(out, Notice{Key: TigerBeetleClusterID, Line: entries[TigerBeetleClusterID].line,
			Msg: "is 0: accepted for an existing ledger formatted with it; a new ledger is better off with the random id m2mctl init makes"})
	}
	sortNotices(out)
	return out
}

func sortNotices(ns []Notice) {
	slices.SortStableFunc(ns, func(a, b Notice) int { return cmp.Compare(a.Line, b.Line) })
}

// aliasedEnviron maps aliases in a process environment to their settings; a setting given under its own name
// wins over an alias.
func aliasedEnviron(environ []string) []string {
	own := map[string]bool{}
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		own[k] = true
	}
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if c, known := Canonical(k); ok && known && c != k {
			if own[c] {
				continue
			}
			kv = c + "=" + v
		}
		out = append(out, kv)
	}
	return out
}
