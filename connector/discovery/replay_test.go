package discovery

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAnnouncingAnAddressOtherThanPrefixDotNodeIDIsRefused(t *testing.T) {
	_, base := startRegistry(t, RegistryConfig{})
	victim := newTestNode(t, "victim")
	if code, a := victim.announce(t, base); code != http.StatusOK {
		t.Fatalf("victim: %d %q", code, a.Error)
	}
	for _, tc := range []struct{ name, addr string }{
		{"another node's address", "g.m2m.victim"},
		{"the parent prefix", "g.m2m"},
		{"the scheme", "g.m2m.x"[:1] + ".mallory"},
		{"under the victim's address", "g.m2m.victim.mallory"},
		{"own address plus a segment", "g.m2m.mallory.sub"},
		{"own id under another prefix", "test.m2m.mallory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestNode(t, "mallory")
			m.info.ILPAddress = tc.addr
			code, a := m.announce(t, base)
			if code != http.StatusBadRequest || !strings.Contains(a.Error, "ilpAddress") || !strings.Contains(a.Error, "g.m2m.mallory") {
				t.Fatalf("%s: %d %q, want 400 naming ilpAddress and the one allowed (g.m2m.mallory)", tc.addr, code, a.Error)
			}
		})
	}
	code, a := get(t, base+peersPath)
	if code != http.StatusOK || *a.Total != 1 {
		t.Fatalf("list after hijack attempts: %v", nodeIDs(a.Peers))
	}
	var raw struct {
		NetworkPrefix string `json:"networkPrefix"`
	}
	getJSONInto(t, base+peersPath, &raw)
	if raw.NetworkPrefix != DefaultNetworkPrefix {
		t.Fatalf("GET answer networkPrefix %q, want %q", raw.NetworkPrefix, DefaultNetworkPrefix)
	}
}

func TestNetworkPrefixIsARegistrySetting(t *testing.T) {
	_, base := startRegistry(t, RegistryConfig{NetworkPrefix: "test.net"})
	n := newTestNode(t, "alice")
	if code, _ := n.announce(t, base); code != http.StatusBadRequest {
		t.Fatalf("g.m2m.alice at a test.net registry: %d, want 400", code)
	}
	n.info.ILPAddress = "test.net.alice"
	if code, a := n.announce(t, base); code != http.StatusOK {
		t.Fatalf("test.net.alice: %d %q", code, a.Error)
	}
	if _, err := NewRegistry(RegistryConfig{DataDir: t.TempDir(), NetworkPrefix: "g..x"}); err == nil {
		t.Fatal("an invalid network prefix was accepted")
	}
}

func TestReplayedAnnouncementIsRefused(t *testing.T) {
	clk := newClock()
	_, base := startRegistry(t, RegistryConfig{Now: clk.Now})
	alice := newTestNode(t, "alice")
	captured := signedAnnouncement(base, alice.body(t), alice.key, clk.Now())
	if code, a := sendSigned(t, base, captured); code != http.StatusOK {
		t.Fatalf("original: %d %q", code, a.Error)
	}
	for _, after := range []time.Duration{0, 5 * time.Second, 4 * time.Minute} {
		clk.Advance(after)
		if code, a := sendSigned(t, base, captured); code != http.StatusUnauthorized || !strings.Contains(a.Error, "replay") {
			t.Fatalf("replay %s later: %d %q, want 401 replay", after, code, a.Error)
		}
	}
	clk.Advance(2 * 24 * time.Hour)
	if code, a := sendSigned(t, base, captured); code != http.StatusUnauthorized || !strings.Contains(a.Error, "too old") {
		t.Fatalf("replay days later: %d %q, want 401 too old", code, a.Error)
	}
	_, a := get(t, base+peersPath)
	if len(a.Peers) != 0 {
		t.Fatalf("a replay refreshed alice's lastSeen: listed %v two days after her last announcement", nodeIDs(a.Peers))
	}
}

func TestAnnouncementReplayedAfterTheOwnersDeleteIsRefused(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	_, base := startRegistry(t, RegistryConfig{Now: clk.Now, DataDir: dir})
	alice := newTestNode(t, "alice")
	captured := signedAnnouncement(base, alice.body(t), alice.key, clk.Now())
	sendSigned(t, base, captured)
	clk.Advance(time.Second)
	if code, a := deleteSigned(t, base, "alice", alice.key, clk.Now()); code != http.StatusOK {
		t.Fatalf("owner's DELETE: %d %q", code, a.Error)
	}
	// The rule survives a restart: the times are in the state file.
	_, base2 := startRegistry(t, RegistryConfig{Now: clk.Now, DataDir: dir})
	captured2 := signedAnnouncement(base2, alice.body(t), alice.key, clk.Now().Add(-time.Second))
	for name, b := range map[string]string{"same registry": base, "restarted registry": base2} {
		m := captured
		if b == base2 {
			m = captured2 // signed, like the original, before the DELETE
		}
		if code, a := sendSigned(t, b, m); code != http.StatusUnauthorized || !strings.Contains(a.Error, "replay") {
			t.Fatalf("%s: announcement from before the DELETE: %d %q, want 401 replay", name, code, a.Error)
		}
	}
	if _, a := get(t, base2+peersPath); len(a.Peers) != 0 {
		t.Fatalf("a deleted node is listed again: %v", nodeIDs(a.Peers))
	}
	clk.Advance(time.Second)
	if code, a := postAnnouncementAt(t, base2, alice.body(t), alice.key, clk.Now()); code != http.StatusOK {
		t.Fatalf("alice's fresh announcement: %d %q", code, a.Error)
	}
}

func TestStaleAndFarFutureTimestampsAreRefused(t *testing.T) {
	clk := newClock()
	_, base := startRegistry(t, RegistryConfig{Now: clk.Now})
	alice := newTestNode(t, "alice")
	if code, a := postAnnouncementAt(t, base, alice.body(t), alice.key, clk.Now().Add(20*time.Second)); code != http.StatusOK {
		t.Fatalf("20 s ahead (inside the window): %d %q", code, a.Error)
	}
	// DELETEs have the same window as announcements: the probe dated one 4 min ahead and locked
	// the owner out.
	send := map[string]func(at time.Time) (int, answer){
		"announcement": func(at time.Time) (int, answer) { return postAnnouncementAt(t, base, alice.body(t), alice.key, at) },
		"DELETE":       func(at time.Time) (int, answer) { return deleteSigned(t, base, "alice", alice.key, at) },
	}
	for kind, send := range send {
		for _, tc := range []struct {
			offset time.Duration
			want   string
		}{
			{-6 * time.Minute, "too old"},
			{31 * time.Second, "future"},
			{4 * time.Minute, "future"},
		} {
			if code, a := send(clk.Now().Add(tc.offset)); code != http.StatusUnauthorized || !strings.Contains(a.Error, tc.want) {
				t.Errorf("%s dated %s: %d %q, want 401 %s", kind, tc.offset, code, a.Error, tc.want)
			}
		}
	}
	if _, a := get(t, base+peersPath); !slices.Equal(nodeIDs(a.Peers), []string{"alice"}) {
		t.Fatalf("after refused DELETEs the registry lists %v, want alice", nodeIDs(a.Peers))
	}
}

func TestFutureDatedDeleteDoesNotLockOutCorrectClockMessages(t *testing.T) {
	clk := newClock()
	_, base := startRegistry(t, RegistryConfig{Now: clk.Now})
	alice := newTestNode(t, "alice")
	postAnnouncementAt(t, base, alice.body(t), alice.key, clk.Now())
	clk.Advance(time.Second)
	if code, a := deleteSigned(t, base, "alice", alice.key, clk.Now().Add(25*time.Second)); code != http.StatusOK {
		t.Fatalf("DELETE 25 s ahead: %d %q", code, a.Error)
	}
	clk.Advance(time.Second)
	if code, a := postAnnouncementAt(t, base, alice.body(t), alice.key, clk.Now()); code != http.StatusOK {
		t.Fatalf("a correct-clock announcement 1 s after a future-dated DELETE: %d %q", code, a.Error)
	}
	clk.Advance(time.Second)
	if code, a := deleteSigned(t, base, "alice", alice.key, clk.Now()); code != http.StatusOK {
		t.Fatalf("a correct-clock DELETE after it: %d %q", code, a.Error)
	}
}

func TestStaleTempFilesAreRemovedAtStart(t *testing.T) {
	dir := t.TempDir()
	_, base := startRegistry(t, RegistryConfig{DataDir: dir})
	newTestNode(t, "alice").announce(t, base)
	stale := []string{"." + StateFileName + ".tmp-123", "." + StateFileName + ".abc.tmp"} // atomicfile's, and older releases'

	for _, f := range stale {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("{partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keep := filepath.Join(dir, "operator-notes.tmp")
	if err := os.WriteFile(keep, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, base2 := startRegistry(t, RegistryConfig{DataDir: dir})
	for _, f := range stale {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s still there after start: %v", f, err)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("a file that is not the registry's was removed: %v", err)
	}
	if _, a := get(t, base2+peersPath); *a.Total != 1 {
		t.Fatalf("state lost: %v", nodeIDs(a.Peers))
	}
}
