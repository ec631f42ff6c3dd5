package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/creack/pty"

	"github.com/m2mnet/m2m/internal/testenv"
)

// terminal is the far side of a pseudo-terminal: what the program drew, and a keyboard.
type terminal struct {
	pty  *os.File
	mu   sync.Mutex
	all  bytes.Buffer // everything drawn
	seen int          // how far waitFor has matched, in the text without escape sequences
}

// escapes are the terminal control sequences (CSI and OSC) between the visible characters.
var escapes = regexp.MustCompile(`\x1b\[[0-9;?<=>]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][A-Z0-9]`)

// text is what was drawn, without escape sequences.
func (term *terminal) text() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return escapes.ReplaceAllString(term.all.String(), "")
}

func (term *terminal) raw() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.all.String()
}

// prompt is how the wizard titles the focused field of a setting on screen: its question, then the .env key.
func prompt(name string) string { return "┃ " + askOf(name) + "  " + name }

// askOf is the wizard's question for a setting.
func askOf(name string) string {
	for _, q := range questions() {
		if q.name == name {
			return q.ask
		}
	}
	panic("no question for " + name)
}

func (term *terminal) read() {
	buf := make([]byte, 4096)
	for {
		n, err := term.pty.Read(buf)
		term.mu.Lock()
		term.all.Write(buf[:n])
		// Answer the background-colour and cursor-position queries a real terminal answers, so that the
		// program does not sit out its timeout waiting for them.
		if bytes.Contains(buf[:n], []byte("\x1b]11;?")) {
			term.pty.Write([]byte("\x1b]11;rgb:0000/0000/0000\x1b\\"))
		}
		if bytes.Contains(buf[:n], []byte("\x1b[6n")) {
			term.pty.Write([]byte("\x1b[1;1R"))
		}
		term.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// waitFor waits until the terminal shows want after what the last waitFor matched.
func (term *terminal) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		text := term.text()
		if i := strings.Index(text[term.seen:], want); i >= 0 {
			term.seen += i + len(want)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the terminal never showed %q; last output:\n%s", want, tail(term.text(), 2000))
}

func (term *terminal) keys(t *testing.T, s string) {
	t.Helper()
	if _, err := term.pty.Write([]byte(s)); err != nil {
		t.Fatalf("type %q: %v", s, err)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func TestMain(m *testing.M) {
	testenv.CommandMain("m2mctl", main)
	os.Exit(m.Run())
}

// startOnTerminal runs m2mctl (this test binary as the command, see testenv.CommandMain) in dir with args
// on a pseudo-terminal, bounded to 90 s.
func startOnTerminal(t *testing.T, dir string, args ...string) (*exec.Cmd, *terminal) {
	t.Helper()
	bin := testenv.Command(t, "m2mctl")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 120})
	if err != nil {
		t.Fatalf("start on a pty: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	term := &terminal{pty: f}
	go term.read()
	return cmd, term
}

const (
	keyEnter = "\r"
	keyDown  = "\x1b[B"
	keyCtrlU = "\x15"
)

func TestInitCompletesTheWizardOnARealTerminal(t *testing.T) {
	dir := t.TempDir()
	cmd, term := startOnTerminal(t, dir, "init")

	// Page by page, waiting for each field's focus before typing: a new form only reads keys once drawn.
	term.waitFor(t, prompt(settings.NodeID))
	term.keys(t, keyCtrlU+"pty-node"+keyEnter)
	term.waitFor(t, prompt(settings.DeployTarget))
	term.keys(t, keyEnter) // compose
	term.waitFor(t, prompt(settings.SettlementPreference))
	term.keys(t, keyDown+keyEnter) // xrp
	term.waitFor(t, prompt(settings.XRPAddress))
	term.keys(t, testXRPAddress+keyEnter)
	term.waitFor(t, prompt(settings.XRPLWSSURL))
	term.keys(t, keyEnter)
	term.waitFor(t, prompt(settings.KeyBackend))
	term.keys(t, keyEnter) // env
	term.waitFor(t, "development and tests only")
	term.keys(t, "y")
	term.waitFor(t, prompt(settings.XRPSecret))
	term.waitFor(t, "Leave it empty to skip.")
	term.keys(t, keyEnter) // no key yet: nothing signs in this release
	term.waitFor(t, prompt(settings.PrometheusEnabled))
	term.keys(t, keyEnter)
	term.waitFor(t, prompt(settings.BTPPort))
	term.keys(t, keyEnter)
	term.waitFor(t, prompt(settings.HealthCheckPort))
	term.keys(t, keyCtrlU+"8181"+keyEnter)
	term.waitFor(t, prompt(settings.LogLevel))
	term.keys(t, keyEnter)
	term.waitFor(t, prompt(settings.PeerDiscoveryEnabled))
	term.keys(t, keyEnter)
	term.waitFor(t, "HEALTH_CHECK_PORT ") // the summary, names intact
	term.waitFor(t, "8181")
	term.waitFor(t, "TIGERBEETLE_CLUSTER_ID ")
	term.waitFor(t, "(generated, not shown)")
	term.waitFor(t, "Write .env")
	term.keys(t, keyEnter)
	term.waitFor(t, "m2mctl status")

	if err := cmd.Wait(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("m2mctl init exited %d", ee.ExitCode())
		}
		t.Fatal(err)
	}
	v := loadWritten(t, filepath.Join(dir, ".env"))
	want := map[string]string{settings.NodeID: "pty-node", settings.SettlementPreference: "xrp", settings.XRPAddress: testXRPAddress,
		settings.KeyBackend: "env", settings.XRPSecret: "", settings.HealthCheckPort: "8181", settings.PeerDiscoveryEnabled: "false"}
	for k, w := range want {
		if got := v.String(k); got != w {
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}
	screen := term.text()
	// Each title is a question; the .env key stands beside it, faint.
	if raw := term.raw(); !strings.Contains(raw, "\x1b[2m"+settings.NodeID) {
		t.Errorf("the key NODE_ID is not drawn faint beside its question")
	}
	if !strings.Contains(screen, "127.0.0.1:8181/health/ready") {
		t.Errorf("the next steps do not show the health check on the chosen port:\n%q", tail(screen, 1500))
	}
	assertNoSecretPrinted(t, v, screen)
}

// m2mctl up with no .env on a terminal runs the wizard first; Ctrl-C there leaves nothing written and
// deploys nothing.
func TestUpWithoutEnvRunsTheWizardOnATerminal(t *testing.T) {
	dir := t.TempDir()
	cmd, term := startOnTerminal(t, dir, "up")

	term.waitFor(t, "No .env yet: let's write one first.")
	term.waitFor(t, prompt(settings.NodeID))
	term.keys(t, "\x03") // Ctrl-C
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("m2mctl up interrupted in the wizard: %v, want a non-zero exit", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".env")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an interrupted wizard left a .env behind (stat: %v)", err)
	}
}
