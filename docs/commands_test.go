package docs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mnet/m2m/internal/testenv"
)

// repoRoot is where README.md and go.mod are; tests run in docs/.
const repoRoot = ".."

// TestDocCommandsRun runs every m2mctl command shown in the fenced blocks of README.md and docs/**/*.md:
// those that only read run for real against a .env made by `m2mctl init --yes`; those that would change the
// host run with --dry-run when they have it, else are checked with --help (cobra still parses every flag, so
// an unknown flag or command fails). Commands that need the engine are skipped with one line when none
// answers, unless M2M_REQUIRE_DOCKER=1.
func TestDocCommandsRun(t *testing.T) {
	files, err := docFiles(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	var cmds []docCommand
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		c, err := extractCommands(f, string(src))
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c...)
	}
	// The guides show dozens of commands; finding almost none means the extraction broke, not the docs.
	if len(cmds) < 10 {
		t.Fatalf("found only %d m2mctl commands in %v; the fenced-block extraction is broken", len(cmds), files)
	}
	r := newRunner(t)
	for _, c := range cmds {
		t.Run(c.String(), func(t *testing.T) {
			if skip, err := r.check(c); err != nil {
				t.Error(err)
			} else if skip != "" {
				t.Skip(skip)
			}
		})
	}
}

// TestCheckFailsOnADocThatLies proves the check can fail: each command is what a stale doc would show.
func TestCheckFailsOnADocThatLies(t *testing.T) {
	r := newRunner(t)
	tests := []struct {
		name, line, want string
	}{
		{"unknown flag on a command that changes the host", "m2mctl down --purge-everything", "unknown flag"},
		{"unknown flag on a dry run", "m2mctl up --dry-run --no-such-flag", "unknown flag"},
		{"unknown shorthand", "m2mctl status -Z", "unknown shorthand"},
		{"unknown command", "m2mctl deploy", "unknown command"},
		{"flag of another command", "m2mctl config --wait-timeout 5m", "unknown flag"},
		{"bad value for a read command", "m2mctl config --profile nosuch", "profile"},
		{"bad value on a dry run", "m2mctl up --pull sometimes", "pull"},
		{"argument a read command refuses", "m2mctl status connector", "connector"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmds, err := extractCommands("bogus.md", "```sh\n"+tt.line+"\n```\n")
			if err != nil || len(cmds) != 1 {
				t.Fatalf("extract %q: %v, %d commands", tt.line, err, len(cmds))
			}
			skip, err := r.check(cmds[0])
			if skip != "" {
				t.Skip(skip)
			}
			if err == nil {
				t.Fatalf("check(%q) passed; a doc that shows it must fail the test", tt.line)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "bogus.md:2") {
				t.Errorf("check(%q) = %v; want an error naming bogus.md:2 and %q", tt.line, err, tt.want)
			}
		})
	}
}

// docFiles lists README.md and every Markdown file under docs/, relative to root.
func docFiles(root string) ([]string, error) {
	files := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".md") {
			return err
		}
		rel, err := filepath.Rel(root, p)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	return files, err
}

// runner runs m2mctl, built once, in a directory holding a .env.
type runner struct {
	bin, dir  string
	engineErr error // why no engine answers; nil when one does
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

func newRunner(t *testing.T) *runner {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "m2mctl-docs-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "m2mctl")
		build := exec.Command("go", "build", "-o", builtBin, "./cmd/m2mctl")
		build.Dir = repoRoot
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/m2mctl: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	r := &runner{bin: builtBin, dir: t.TempDir(), engineErr: testenv.EngineErr()}
	// A node that settles on XRP with keys in KMS needs no secret file: init --yes makes the rest.
	res := r.run(r.dir, 30*time.Second, "init", "--yes", "--settlement", "xrp",
		"--xrp-address", "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh", "--key-backend", "aws-kms",
		"--aws-region", "eu-west-1", "--aws-kms-xrp-key-id", "alias/m2m-node")
	if res.code != 0 {
		t.Fatalf("m2mctl init --yes (to make the test's .env) exited %d: %s", res.code, firstLines(res.stderr, 5))
	}
	return r
}

// Commands that only read. Others change the host and never run for real here.
var readOnly = map[string]bool{"config": true, "plan": true, "status": true, "logs": true, "help": true, "completion": true, "": true}

// needEngine are the commands that talk to the Docker engine.
var needEngine = map[string]bool{"plan": true, "status": true, "logs": true, "up": true, "down": true, "migrate": true, "upgrade": true}

// check runs one documented command. It returns an error when the doc is wrong, or a reason to skip.
func (r *runner) check(c docCommand) (skip string, err error) {
	help, err := r.checkFlags(c)
	if err != nil {
		return "", err
	}
	args, ok := runnable(c.Args, help)
	if !ok {
		return "", nil
	}
	if needEngine[subcommand(args)] && r.engineErr != nil {
		if testenv.Required() {
			return "", fmt.Errorf("%s: needs the Docker engine, and M2M_REQUIRE_DOCKER=1: %v", c, r.engineErr)
		}
		return fmt.Sprintf("flags checked; not run, no Docker engine: %v", firstLines(r.engineErr.Error(), 1)), nil
	}
	return "", r.runAs(c, args)
}

// checkFlags runs the command with --help and returns the help text. Cobra parses every flag before it
// honours --help, so an unknown flag, shorthand or command fails here, even for a command that must not run.
func (r *runner) checkFlags(c docCommand) (string, error) {
	args := c.Args
	if !hasAny(args, "--help", "-h") {
		args = append(slices.Clone(args), "--help")
	}
	res := r.run(r.dir, 30*time.Second, args...)
	if res.code != 0 {
		return "", fmt.Errorf("%s: m2mctl refuses it (exit %d): %s", c, res.code, firstLines(res.stderr, 3))
	}
	return res.stdout, nil
}

// runnable returns how a command may run here: as written when it only reads, with --dry-run when it would
// change the host and has that flag. ok is false when the --help check is all it gets.
func runnable(args []string, help string) (_ []string, ok bool) {
	sub := subcommand(args)
	switch {
	case hasAny(args, "--help", "-h") || (sub == "" && hasAny(args, "--version", "-v")):
		return nil, false // the --help check ran it already
	case readOnly[sub]:
		return args, true
	case strings.Contains(help, "--dry-run"):
		if hasAny(args, "--dry-run") {
			return args, true
		}
		return append(slices.Clone(args), "--dry-run"), true
	}
	return nil, false
}

// runAs runs args in the directory with the .env. A usage error fails; so does any error of a command that
// does not read the engine. Exit 1 from one that does reports the engine's state (no stack here), not the doc.
func (r *runner) runAs(c docCommand, args []string) error {
	dir := r.dir
	if subcommand(args) == "migrate" {
		var err error
		if dir, err = originalStackDir(r.dir, args); err != nil {
			return fmt.Errorf("%s: %v", c, err)
		}
	} else if err := r.prepareEnvFile(args); err != nil {
		return fmt.Errorf("%s: %v", c, err)
	}
	follows := hasAny(args, "-f", "--follow", "-w", "--watch")
	timeout := 60 * time.Second
	if follows {
		timeout = 3 * time.Second // it streams until interrupted: running that long is success
	}
	res := r.run(dir, timeout, args...)
	switch {
	case res.timedOut && follows:
	case res.timedOut:
		return fmt.Errorf("%s: did not finish within %s", c, timeout)
	case res.code == 2 || strings.Contains(res.stderr, "unknown command"): // cobra's NoArgs error exits 1
		return fmt.Errorf("%s: `m2mctl %s` refuses it (exit %d): %s", c, strings.Join(args, " "), res.code, firstLines(res.stderr, 3))
	case res.code != 0 && !needEngine[subcommand(args)]:
		return fmt.Errorf("%s: exited %d: %s", c, res.code, firstLines(res.stderr, 3))
	}
	return nil
}

// originalStackDir makes a directory, under dir, holding what `m2mctl migrate` reads: the TypeScript stack's .env
// (its .env.example as an operator fills it in) at the command's --from path.
func originalStackDir(dir string, args []string) (string, error) {
	from := ".env"
	for i, a := range args {
		switch {
		case a == "--from" && i+1 < len(args):
			from = args[i+1]
		case strings.HasPrefix(a, "--from="):
			from = strings.TrimPrefix(a, "--from=")
		}
	}
	if filepath.IsAbs(from) {
		return "", fmt.Errorf("--from %s: use a relative path in a guide so the command can be run here", from)
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, "cmd", "m2mctl", "testdata", "typescript.env"))
	if err != nil {
		return "", err
	}
	stackDir, err := os.MkdirTemp(dir, "typescript-stack-")
	if err != nil {
		return "", err
	}
	dst := filepath.Join(stackDir, from)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", err
	}
	return stackDir, os.WriteFile(dst, data, 0o600)
}

// prepareEnvFile puts the test's .env where a command's --env-file points, if it is another relative path.
func (r *runner) prepareEnvFile(args []string) error {
	for i, a := range args {
		var p string
		switch {
		case a == "--env-file" && i+1 < len(args):
			p = args[i+1]
		case strings.HasPrefix(a, "--env-file="):
			p = strings.TrimPrefix(a, "--env-file=")
		default:
			continue
		}
		if filepath.IsAbs(p) {
			return fmt.Errorf("--env-file %s: use a relative path in a guide so the command can be run here", p)
		}
		if filepath.Clean(p) == ".env" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(r.dir, ".env"))
		if err != nil {
			return err
		}
		dst := filepath.Join(r.dir, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

type result struct {
	code           int
	stdout, stderr string
	timedOut       bool
}

func (r *runner) run(dir string, timeout time.Duration, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String(), timedOut: ctx.Err() != nil}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	default:
		res.code, res.stderr = -1, err.Error()
	}
	return res
}

// subcommand is the first word that is not a flag (flags of the root take no value).
func subcommand(args []string) string {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

func hasAny(args []string, flags ...string) bool {
	for _, a := range args {
		if slices.Contains(flags, a) {
			return true
		}
	}
	return false
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " / ")
}
