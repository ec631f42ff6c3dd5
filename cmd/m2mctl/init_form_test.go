package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/m2mnet/m2m/stack/settings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/huh"
	"github.com/charmbracelet/x/exp/teatest"
)

// newTestWizard is the full-screen wizard with no answers from flags.
func newTestWizard(t *testing.T) *wizard {
	t.Helper()
	qs := questions()
	a, preset, err := startingAnswers(qs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &wizard{qs: qs, a: a, preset: preset, output: ".env", theme: huh.ThemeBase()}
}

// startPage runs the page of questions from index i as a bubbletea program fed by teatest; finish copies
// the answers of confirm fields back, as the wizard does after a page.
func startPage(t *testing.T, w *wizard, i int) (tm *teatest.TestModel, finish func()) {
	t.Helper()
	page, _ := w.page(i)
	items := make([]item, len(page))
	for j, q := range page {
		items[j] = w.item(q)
	}
	form := w.form(string(page[0].setting().Group), items)
	form.SubmitCmd = tea.Quit
	form.CancelCmd = tea.Quit
	finish = func() {
		for _, it := range items {
			if it.done != nil {
				it.done()
			}
		}
	}
	return teatest.NewTestModel(t, form, teatest.WithInitialTermSize(100, 40)), finish
}

func waitForView(t *testing.T, tm *teatest.TestModel, want string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(want)) },
		teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

func key(k tea.KeyType) tea.KeyMsg { return tea.KeyMsg{Type: k} }

func TestInitFormChecksAsYouTypeAndTakesKeys(t *testing.T) {
	w := newTestWizard(t)
	tm, _ := startPage(t, w, 0) // NODE_ID, then DEPLOY_TARGET

	waitForView(t, tm, "This node's name on the network") // the schema's doc is the help text
	tm.Send(key(tea.KeyCtrlU))                            // clear the generated id
	tm.Type("Bad Node")
	tm.Send(key(tea.KeyEnter))
	waitForView(t, tm, "must be 3-64 characters") // the schema's validator, refusing to move on

	tm.Send(key(tea.KeyCtrlU))
	tm.Type("good-node")
	tm.Send(key(tea.KeyEnter))
	waitForView(t, tm, "┃ "+askOf(settings.DeployTarget))
	tm.Send(key(tea.KeyDown))
	tm.Send(key(tea.KeyEnter))
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))

	if got := w.a.get(settings.NodeID); got != "good-node" {
		t.Errorf("NODE_ID = %q, want good-node", got)
	}
	if got := w.a.get(settings.DeployTarget); got != settings.TargetSwarm {
		t.Errorf("DEPLOY_TARGET = %q, want %s", got, settings.TargetSwarm)
	}
}

func TestInitFormRefusesAPortThatIsTaken(t *testing.T) {
	w := newTestWizard(t)
	i := 0
	for w.qs[i].name != settings.PrometheusEnabled {
		i++
	}
	tm, finish := startPage(t, w, i) // PROMETHEUS_ENABLED, BTP_PORT, HEALTH_CHECK_PORT, LOG_LEVEL, PEER_DISCOVERY_ENABLED
	// Keys and huh's move to the next field are separate messages: wait for the focus (the "┃" border) each time.
	waitForView(t, tm, "┃ "+askOf(settings.PrometheusEnabled))
	tm.Send(key(tea.KeyLeft)) // toggle to No
	tm.Send(key(tea.KeyEnter))
	waitForView(t, tm, "┃ "+askOf(settings.BTPPort))
	tm.Send(key(tea.KeyCtrlU))
	tm.Type("9090")
	tm.Send(key(tea.KeyEnter))
	waitForView(t, tm, "is already the port of PROMETHEUS_PORT")
	tm.Send(key(tea.KeyCtrlU))
	tm.Type("4444")
	tm.Send(key(tea.KeyEnter))
	waitForView(t, tm, "┃ "+askOf(settings.HealthCheckPort))
	tm.Send(key(tea.KeyEnter)) // keep
	waitForView(t, tm, "┃ "+askOf(settings.LogLevel))
	tm.Send(key(tea.KeyEnter)) // keep
	waitForView(t, tm, "┃ "+askOf(settings.PeerDiscoveryEnabled))
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("y")})
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	finish()

	want := map[string]string{settings.PrometheusEnabled: "false", settings.BTPPort: "4444", settings.HealthCheckPort: "8080",
		settings.LogLevel: "info", settings.PeerDiscoveryEnabled: "true"}
	for k, v := range want {
		if got := w.a.get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestInitFormEnvWarningDefaultsToNo(t *testing.T) {
	tests := []struct {
		keys []tea.KeyMsg
		want bool
	}{
		{[]tea.KeyMsg{key(tea.KeyEnter)}, false},
		{[]tea.KeyMsg{{Type: tea.KeyRunes, Runes: []rune("y")}, key(tea.KeyEnter)}, true},
	}
	for _, tt := range tests {
		w := newTestWizard(t)
		ok := false
		confirm := huh.NewConfirm().Title("Keep the keys in .env anyway?").Description(envBackendWarning).Value(&ok)
		form := w.form("Keys", []item{{field: confirm}})
		form.SubmitCmd = tea.Quit
		tm := teatest.NewTestModel(t, form, teatest.WithInitialTermSize(100, 30))
		waitForView(t, tm, "development and tests only")
		for _, k := range tt.keys {
			tm.Send(k)
		}
		tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
		if ok != tt.want {
			t.Errorf("after %v: confirmed = %v, want %v", tt.keys, ok, tt.want)
		}
	}
}
