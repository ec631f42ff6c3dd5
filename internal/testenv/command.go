package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// CommandMain lets a main package's test binary stand in for the command itself: when the binary was
// started under the name given (through the path Command returns), it runs main and exits instead of
// running tests. Call it first in TestMain:
//
//	func TestMain(m *testing.M) {
//		testenv.CommandMain("m2m-connector", main)
//		os.Exit(m.Run())
//	}
//
// Tests then start the real process — the same main, flags, signals, exit codes and output — without a
// `go build` per test (tens of seconds each on a busy machine).
func CommandMain(name string, main func()) {
	if filepath.Base(os.Args[0]) != name {
		return
	}
	main()
	os.Exit(0)
}

// Command returns the path of an executable that runs this test binary as the command name (see
// CommandMain): a symbolic link in a temporary directory of t.
func Command(t testing.TB, name string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("find the test binary: %v", err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(self, path); err != nil {
		t.Fatalf("link the test binary as %s: %v", name, err)
	}
	return path
}
