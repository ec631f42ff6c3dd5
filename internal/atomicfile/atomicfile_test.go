package atomicfile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/internal/atomicfile"
)

func TestWriteReplacesTheFileWithItsModeAndLeavesNoTemporary(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "new" {
		t.Fatalf("content %q, %v; want new", got, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v; want 0600 even over a 0644 file", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("directory holds %d entries; want only .env, no temporary left", len(entries))
	}
}

func TestWriteIntoAMissingDirectoryFailsNamingThePathAndLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing", "state.json")
	err := atomicfile.Write(path, []byte("x"), 0o600)
	if err == nil {
		t.Fatal("wrote into a directory that does not exist")
	}
	if want := filepath.Join(dir, "missing"); !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not name %s", err, want)
	}
}

func TestWriteOverADirectoryFailsAndRemovesItsTemporary(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "taken")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(path, "x"), nil, 0o600) // a non-empty directory cannot be renamed over
	if err := atomicfile.Write(path, []byte("x"), 0o600); err == nil {
		t.Fatal("replaced a non-empty directory")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("directory holds %d entries; want the temporary removed", len(entries))
	}
}

func TestRemoveStaleRemovesOnlyThisFilesTemporaries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state[1].json") // a name with glob characters
	if err := atomicfile.Write(path, []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	stale := []string{".state[1].json.tmp-1", ".state[1].json.tmp-abc"}
	others := []string{".state1.json.tmp-1", ".other.json.tmp-1", "state[1].json.bak"}
	for _, f := range append(stale, others...) {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("{partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n, err := atomicfile.RemoveStale(path)
	if err != nil || n != len(stale) {
		t.Fatalf("RemoveStale = %d, %v; want %d, nil", n, err, len(stale))
	}
	for _, f := range stale {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", f, err)
		}
	}
	for _, f := range append(others, "state[1].json") {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s was removed or unreadable: %v", f, err)
		}
	}
}
