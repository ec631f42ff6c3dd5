package discovery

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRestartedRegistryKeepsEntriesAndKeyBindings(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	reg, base := startRegistry(t, RegistryConfig{DataDir: dir, Now: clk.Now})
	alice, bob := newTestNode(t, "alice"), newTestNode(t, "bob")
	alice.announce(t, base)
	bob.announce(t, base)
	clk.Advance(10 * time.Second)
	alice.announce(t, base) // a refresh only: written on the next flush or at Close
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}

	_, base2 := startRegistry(t, RegistryConfig{DataDir: dir, Now: clk.Now})
	_, a := get(t, base2+peersPath)
	if got := nodeIDs(a.Peers); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("after restart: %v, want [alice bob]", got)
	}
	if a.Peers[0].LastSeen != clk.Now().UnixMilli() {
		t.Errorf("alice's refreshed lastSeen was lost: %d, want %d", a.Peers[0].LastSeen, clk.Now().UnixMilli())
	}
	impostor := newTestNode(t, "alice")
	if code, _ := impostor.announce(t, base2); code != http.StatusConflict {
		t.Fatalf("restart forgot alice's key: impostor got %d", code)
	}
}

func TestRegistrationIsOnDiskBeforeItIsAnswered(t *testing.T) {
	dir := t.TempDir()
	_, base := startRegistry(t, RegistryConfig{DataDir: dir})
	newTestNode(t, "alice").announce(t, base)
	// No Close: a crash right after the answer must not lose the registration.
	reloaded, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := reloaded.nodes["alice"]; !ok {
		t.Fatalf("registration not on disk: %v", reloaded.nodes)
	}
	for _, name := range []string{StateFileName, LogFileName} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != StateFileName && e.Name() != LogFileName {
			t.Errorf("left behind %s in the data dir", e.Name())
		}
	}
}

func TestCorruptStateFileIsReportedWithTheFix(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, StateFileName)
	for _, content := range []string{"{not json", `{"version":9,"nodes":[]}`, `{"version":1,"nodes":[{"nodeId":"a b"}]}`} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := NewRegistry(RegistryConfig{DataDir: dir})
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("state %q: err = %v, want one naming %s", content, err, path)
		}
	}
}

func TestServeShutsDownGracefullyAndFlushes(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	reg, err := NewRegistry(RegistryConfig{DataDir: dir, Now: clk.Now, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()

	alice := newTestNode(t, "alice")
	alice.announce(t, base)
	clk.Advance(time.Minute)
	if code, a := alice.announce(t, base); code != http.StatusOK { // refresh, not yet written (FlushEvery is an hour)
		t.Fatalf("refresh: %d %q", code, a.Error)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get(base + "/health"); err == nil {
		t.Error("still answering after Serve returned")
	}
	st, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a := st.nodes["alice"]; a == nil || a.LastSeen != clk.Now().UnixMilli() {
		t.Fatalf("shutdown did not flush the last refresh: %+v", a)
	}
}

func TestMaintainForgetsNodesPastKeyRetention(t *testing.T) {
	clk := newClock()
	reg, base := startRegistry(t, RegistryConfig{Now: clk.Now, KeyRetention: time.Hour})
	alice := newTestNode(t, "alice")
	alice.announce(t, base)
	clk.Advance(59 * time.Minute)
	reg.maintain()
	if code, _ := newTestNode(t, "alice").announce(t, base); code != http.StatusConflict {
		t.Fatalf("binding dropped before the retention period: %d", code)
	}
	clk.Advance(2 * time.Minute)
	reg.maintain()
	if code, _ := newTestNode(t, "alice").announce(t, base); code != http.StatusOK {
		t.Fatalf("binding kept past the retention period: %d", code)
	}
}
