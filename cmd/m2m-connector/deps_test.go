package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// goTool runs the go command on this module with extra environment and returns its output.
func goTool(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The connector imports only the settings schema, never Compose; the registry links no cgo TigerBeetle; and a
// build without cgo still type-checks (it keeps the registry and the memory ledger).
func TestConnectorLinksNoComposeAndTheRegistryNoTigerBeetle(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	forbidden := []struct{ pkg, dep string }{
		{"github.com/m2mnet/m2m/cmd/m2m-connector", "github.com/compose-spec/"},
		{"github.com/m2mnet/m2m/cmd/m2m-connector", "github.com/moby/"},
		{"github.com/m2mnet/m2m/connector/discovery", "github.com/tigerbeetle/"},
	}
	for _, f := range forbidden {
		for _, dep := range strings.Fields(goTool(t, nil, "list", "-deps", f.pkg)) {
			if strings.HasPrefix(dep, f.dep) {
				t.Errorf("%s depends on %s; it must not link %s", f.pkg, dep, f.dep)
			}
		}
	}
	goTool(t, []string{"CGO_ENABLED=0"}, "vet", "github.com/m2mnet/m2m/connector/ledger", "github.com/m2mnet/m2m/cmd/m2m-connector")
}
