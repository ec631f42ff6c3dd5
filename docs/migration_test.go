package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/internal/testenv"
)

const (
	guide            = "docs/operators/production-deployment-guide.md"
	migrationHeading = "## Coming from the TypeScript stack"
)

// migrationSection is the guide's "Coming from the TypeScript stack" section, and the line it starts on.
func migrationSection(t *testing.T) (string, int) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, guide))
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	start := strings.Index(text, "\n"+migrationHeading+"\n")
	if start < 0 {
		t.Fatalf("%s has no %q section", guide, migrationHeading)
	}
	section := text[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end+1]
	}
	return section, strings.Count(text[:start+1], "\n")
}

// The migration section's m2mctl commands run in order, in the directory of a TypeScript stack whose .env is its
// template filled in: the dry run writes nothing, migrate writes the m2m .env, and config then exits 0. The
// commands after the old stack is stopped (up, status) are run by TestDocCommandsRun.
func TestMigrationSectionRunsInOrder(t *testing.T) {
	testenv.NeedsEngine(t)
	section, offset := migrationSection(t)
	cmds, err := extractCommands(guide, section)
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(t)
	dir, err := originalStackDir(t.TempDir(), []string{"migrate"})
	if err != nil {
		t.Fatal(err)
	}
	env := filepath.Join(dir, ".env")
	original, _ := os.ReadFile(env)
	var ran []string
	for _, c := range cmds {
		sub := subcommand(c.Args)
		if sub != "migrate" && sub != "config" {
			continue
		}
		res := r.run(dir, time.Minute, c.Args...)
		where := guide + ":" + strconv.Itoa(offset+c.Line)
		if res.code != 0 {
			t.Fatalf("%s: m2mctl %s exited %d:\n%s", where, strings.Join(c.Args, " "), res.code, res.stderr)
		}
		now, _ := os.ReadFile(env)
		if hasAny(c.Args, "--dry-run") && string(now) != string(original) {
			t.Errorf("%s: m2mctl %s changed .env", where, strings.Join(c.Args, " "))
		}
		ran = append(ran, strings.Join(c.Args, " "))
	}
	if want := "migrate --dry-run,migrate,config"; strings.Join(ran, ",") != want {
		t.Errorf("the section's migrate and config commands are %q; this test expects %q", strings.Join(ran, ","), want)
	}
	if backups, _ := filepath.Glob(filepath.Join(dir, ".env.bak-*")); len(backups) != 1 {
		t.Errorf("after the section's commands the old .env is kept as %v, want one backup", backups)
	}
}

// templateKey finds the keys of the original's .env.example.
var templateKey = regexp.MustCompile(`(?m)^([A-Z][A-Z0-9_]*)=`)

// The section's table names every key of the original's .env.example.
func TestMigrationSectionMapsEveryOriginalKey(t *testing.T) {
	section, _ := migrationSection(t)
	tmpl, err := os.ReadFile(filepath.Join(repoRoot, "cmd", "m2mctl", "testdata", "typescript.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	keys := templateKey.FindAllStringSubmatch(string(tmpl), -1)
	if len(keys) < 20 {
		t.Fatalf("found %d keys in the original template; the pattern is broken", len(keys))
	}
	for _, k := range keys {
		if !strings.Contains(section, "| `"+k[1]+"`") && !strings.Contains(section, ", `"+k[1]+"`") {
			t.Errorf("the migration table does not map %s", k[1])
		}
	}
}
