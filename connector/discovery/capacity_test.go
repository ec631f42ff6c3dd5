package discovery

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestClientNetworkQuotaRefusesThenRecyclesItsOwnUnlistedIDs(t *testing.T) {
	clk := newClock()
	_, base := startRegistry(t, RegistryConfig{Now: clk.Now, MaxPerClient: 3, Hints: LimitHints{MaxPerClient: "raise --max-per-client"}})
	for i := range 3 {
		if code, a := newTestNode(t, fmt.Sprintf("n%d", i)).announce(t, base); code != http.StatusOK {
			t.Fatalf("n%d within the quota: %d %s", i, code, a.Error)
		}
	}
	code, a := newTestNode(t, "n3").announce(t, base)
	if code != http.StatusTooManyRequests || !strings.Contains(a.Error, "quota") || !strings.Contains(a.Error, "raise --max-per-client") {
		t.Fatalf("4th id from one address: %d %q, want 429 naming the quota and the hint", code, a.Error)
	}
	clk.Advance(2*DefaultTTL + time.Second) // the three expire
	if code, a := newTestNode(t, "n3").announce(t, base); code != http.StatusOK {
		t.Fatalf("after its ids expired, the client's own unlisted id should make room: %d %s", code, a.Error)
	}
}

func TestFullRegistryEvictsIDsNeverSeenAgainFirstAndNamesTheFlag(t *testing.T) {
	clk := newClock()
	reg, base := startRegistry(t, RegistryConfig{Now: clk.Now, MaxNodes: 3, MaxPerClient: 100, Hints: LimitHints{MaxNodes: "raise --max-nodes (now 3)"}})
	steady, once1, once2 := newTestNode(t, "steady"), newTestNode(t, "once1"), newTestNode(t, "once2")
	steady.announce(t, base)
	clk.Advance(time.Second)
	once1.announce(t, base)
	clk.Advance(time.Second)
	once2.announce(t, base)
	clk.Advance(time.Second)
	steady.announce(t, base) // seen again, and the most recently seen
	clk.Advance(2*DefaultTTL + time.Second)

	has := func(id string) bool {
		reg.mu.Lock()
		defer reg.mu.Unlock()
		return reg.nodes[id] != nil
	}
	for _, step := range []struct{ newcomer, evicted string }{{"a", "once1"}, {"b", "once2"}, {"c", "steady"}} {
		if code, a := newTestNode(t, step.newcomer).announce(t, base); code != http.StatusOK {
			t.Fatalf("%s into a full registry with unlisted ids: %d %s", step.newcomer, code, a.Error)
		}
		if has(step.evicted) {
			t.Fatalf("%s joined but %s was not the one evicted", step.newcomer, step.evicted)
		}
	}
	code, a := newTestNode(t, "d").announce(t, base)
	if code != http.StatusServiceUnavailable || !strings.Contains(a.Error, "full") || !strings.Contains(a.Error, "--max-nodes") {
		t.Fatalf("full of listed ids: %d %q, want 503 naming --max-nodes", code, a.Error)
	}
}

func TestAKeyHoldsOneNodeID(t *testing.T) {
	clk := newClock()
	_, base := startRegistry(t, RegistryConfig{Now: clk.Now})
	alice := newTestNode(t, "alice")
	alice.announce(t, base)
	renamed := alice
	renamed.info.NodeID, renamed.info.ILPAddress = "alice2", OwnAddress(DefaultNetworkPrefix, "alice2")
	if code, a := renamed.announce(t, base); code != http.StatusConflict || !strings.Contains(a.Error, `"alice"`) {
		t.Fatalf("second id for a key whose first is listed: %d %q, want 409 naming alice", code, a.Error)
	}
	clk.Advance(2*DefaultTTL + time.Second)
	if code, a := renamed.announce(t, base); code != http.StatusOK {
		t.Fatalf("the key moves to a new id once the old one is unlisted: %d %s", code, a.Error)
	}
	if code, _ := newTestNode(t, "alice").announce(t, base); code != http.StatusOK {
		t.Fatalf("the old id should be free after its key moved: %d", code)
	}
}

func TestForwardedForIsTakenOnlyFromTrustedProxies(t *testing.T) {
	reg, err := NewRegistry(RegistryConfig{DataDir: t.TempDir(), ReadRate: 0.001, ReadBurst: 1,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ remote, xff, want string }{
		{"203.0.113.5:1234", "198.51.100.7", "203.0.113.5"},          // forged by an untrusted peer: ignored
		{"10.1.2.3:1234", "198.51.100.7", "198.51.100.7"},            // from our proxy
		{"10.1.2.3:1234", "198.51.100.7, 10.9.9.9", "198.51.100.7"},  // through two of our proxies
		{"10.1.2.3:1234", "6.6.6.6, 198.51.100.7", "198.51.100.7"},   // the client's own forged hop is not ours to believe
		{"10.1.2.3:1234", "", "10.1.2.3"},                            // no header
		{"10.1.2.3:1234", "not-an-ip", "10.1.2.3"},                   // garbage: the proxy is as far as we can vouch
		{"[2001:db8:1:2::1]:1234", "", "2001:db8:1:2::/64"},          // IPv6: per /64
		{"[2001:db8:1:2:ffff::9]:1234", "", "2001:db8:1:2::/64"},     // same /64, another address
		{"[fd00::1]:1234", "2001:db8:9:9::5", "2001:db8:9:9::/64"},   // IPv6 proxy
		{"[::ffff:203.0.113.5]:1234", "198.51.100.7", "203.0.113.5"}, // v4-mapped
	}
	for _, c := range cases {
		req := httptest.NewRequest(http.MethodGet, peersPath, nil)
		req.RemoteAddr = c.remote
		if c.xff != "" {
			req.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := reg.clientNet(req); got != c.want {
			t.Errorf("from %s with X-Forwarded-For %q: client %s, want %s", c.remote, c.xff, got, c.want)
		}
	}

	// End to end: an untrusted client rotating forged headers still has one bucket.
	for i, want := range []int{http.StatusOK, http.StatusTooManyRequests} {
		req := httptest.NewRequest(http.MethodGet, peersPath, nil)
		req.RemoteAddr = "203.0.113.5:1234"
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		w := httptest.NewRecorder()
		reg.ServeHTTP(w, req)
		if w.Code != want {
			t.Fatalf("request %d with a new forged X-Forwarded-For: %d, want %d", i+1, w.Code, want)
		}
	}
}
