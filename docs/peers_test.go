package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/connector/routing"
)

// peersBlockRE finds a yaml block that is a peers file: its first line is `peers:`.
var peersBlockRE = regexp.MustCompile("(?s)```ya?ml\n(peers:\n.*?)```")

// TestPeersFileExamplesParse loads every peers file shown in the docs with the connector's own parser, which
// refuses unknown fields: a renamed field (btpUrl, authToken, …) in the code fails here, not on a node.
func TestPeersFileExamplesParse(t *testing.T) {
	files, err := docFiles(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range peersBlockRE.FindAllStringSubmatch(string(src), -1) {
			found++
			peers, err := routing.ParsePeers(f, []byte(m[1]))
			if err != nil {
				t.Errorf("%s: the peers file example does not load: %v", f, err)
				continue
			}
			if len(peers) == 0 {
				t.Errorf("%s: the peers file example holds no peer", f)
			}
		}
	}
	if found == 0 {
		t.Fatal("no peers file example (a yaml block starting with `peers:`) in the docs")
	}
}

// TestPeersFileCheckRejectsARenamedField proves the check above can fail.
func TestPeersFileCheckRejectsARenamedField(t *testing.T) {
	doc := "peers:\n  - id: bob\n    relation: child\n    authToken: x1\n    btpURL: ws://bob:4000/\n"
	if _, err := routing.ParsePeers("example", []byte(doc)); err == nil || !strings.Contains(err.Error(), "btpURL") {
		t.Errorf("ParsePeers accepted a mistyped field (err = %v); the docs check relies on it refusing one", err)
	}
}
