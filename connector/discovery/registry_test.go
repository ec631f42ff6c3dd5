package discovery

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/identity"
)

func TestAnnounceThenListReturnsTheEntryWithKeyAndLastSeen(t *testing.T) {
	clk := newClock()
	_, base := startRegistry(t, RegistryConfig{Now: clk.Now})
	alice := newTestNode(t, "alice")

	code, a := alice.announce(t, base)
	if code != http.StatusOK || a.Success == nil || !*a.Success || a.TTL != 120 {
		t.Fatalf("announce: %d %+v, want 200 {success:true, ttl:120}", code, a)
	}
	code, a = get(t, base+peersPath)
	if code != http.StatusOK || a.Total == nil || *a.Total != 1 || len(a.Peers) != 1 {
		t.Fatalf("list: %d %+v", code, a)
	}
	p := a.Peers[0]
	want := alice.info
	want.LastSeen = clk.Now().UnixMilli()
	want.PublicKey = identity.EncodePublicKey(alice.pub())
	if p.NodeID != want.NodeID || p.BTPEndpoint != want.BTPEndpoint || p.ILPAddress != want.ILPAddress ||
		!slices.Equal(p.Capabilities, want.Capabilities) || p.Version != want.Version || p.LastSeen != want.LastSeen || p.PublicKey != want.PublicKey {
		t.Fatalf("listed %+v, want %+v", p, want)
	}
}

func TestListUsesTheOriginalFieldNames(t *testing.T) {
	_, base := startRegistry(t, RegistryConfig{})
	newTestNode(t, "alice").announce(t, base)
	resp, err := http.Get(base + peersPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw struct {
		Peers []map[string]json.RawMessage `json:"peers"`
		Total int                          `json:"total"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil || len(raw.Peers) != 1 {
		t.Fatalf("decode: %v %+v", err, raw)
	}
	for _, f := range []string{"nodeId", "btpEndpoint", "ilpAddress", "capabilities", "lastSeen", "version"} {
		if _, ok := raw.Peers[0][f]; !ok {
			t.Errorf("peer has no %q field: %v", f, raw.Peers[0])
		}
	}
	var lastSeen int64
	if err := json.Unmarshal(raw.Peers[0]["lastSeen"], &lastSeen); err != nil {
		t.Errorf("lastSeen is not a number (Unix ms): %s", raw.Peers[0]["lastSeen"])
	}
}

func TestAnnounceRefusesInvalidBodiesNamingTheField(t *testing.T) {
	_, base := startRegistry(t, RegistryConfig{})
	node := newTestNode(t, "alice")
	with := func(f func(p *PeerInfo)) []byte {
		p := node.info
		f(&p)
		b, _ := json.Marshal(p)
		return b
	}
	tests := []struct {
		name string
		body []byte
		want []string // substrings of the error
	}{
		{"empty nodeId", with(func(p *PeerInfo) { p.NodeID = "" }), []string{"nodeId", "1 to 64"}},
		{"nodeId with a slash", with(func(p *PeerInfo) { p.NodeID = "a/b" }), []string{"nodeId", `"a/b"`}},
		{"nodeId with a space", with(func(p *PeerInfo) { p.NodeID = "a b" }), []string{"nodeId"}},
		{"nodeId with a dot", with(func(p *PeerInfo) { p.NodeID = "a.b" }), []string{"nodeId"}},
		{"nodeId too long", with(func(p *PeerInfo) { p.NodeID = strings.Repeat("a", 65) }), []string{"nodeId", "64"}},
		{"nodeId starting with a dash", with(func(p *PeerInfo) { p.NodeID = "-alice" }), []string{"nodeId"}},
		{"http endpoint", with(func(p *PeerInfo) { p.BTPEndpoint = "http://x:4000" }), []string{"btpEndpoint", "ws:// or wss://"}},
		{"endpoint without host", with(func(p *PeerInfo) { p.BTPEndpoint = "ws://" }), []string{"btpEndpoint", "no host"}},
		{"endpoint with password", with(func(p *PeerInfo) { p.BTPEndpoint = "wss://u:hunter2@x:4000" }), []string{"btpEndpoint", "user:password"}},
		{"missing endpoint", with(func(p *PeerInfo) { p.BTPEndpoint = "" }), []string{"btpEndpoint", "required"}},
		{"ilp address bad scheme", with(func(p *PeerInfo) { p.ILPAddress = "foo.alice" }), []string{"ilpAddress", "scheme"}},
		{"ilp address trailing dot", with(func(p *PeerInfo) { p.ILPAddress = "g.alice." }), []string{"ilpAddress", "empty segment"}},
		{"ilp address bare scheme", with(func(p *PeerInfo) { p.ILPAddress = "g" }), []string{"ilpAddress", "segment"}},
		{"unknown capability", with(func(p *PeerInfo) { p.Capabilities = []string{"btc-settlement"} }), []string{"capabilities", "btc-settlement", "evm-settlement"}},
		{"duplicate capability", with(func(p *PeerInfo) { p.Capabilities = []string{"evm-settlement", "evm-settlement"} }), []string{"capabilities", "twice"}},
		{"version with a newline", with(func(p *PeerInfo) { p.Version = "1\n2" }), []string{"version"}},
		{"capabilities not an array", []byte(`{"nodeId":"alice","capabilities":"evm-settlement"}`), []string{"capabilities", "array of strings"}},
		{"nodeId a number", []byte(`{"nodeId":7}`), []string{"nodeId", "must be a string"}},
		{"unknown field", []byte(`{"nodeId":"alice","endpoint":"ws://x"}`), []string{`"endpoint"`, "allowed"}},
		{"public key in the body", []byte(`{"nodeId":"alice","publicKey":"x"}`), []string{"publicKey", HeaderPublicKey}},
		{"not JSON", []byte(`{"nodeId":`), []string{"JSON"}},
		{"empty body", []byte(``), []string{"empty"}},
		{"two objects", append(node.body(t), node.body(t)...), []string{"after the JSON object"}},
		{"larger than 16 KiB", bytes.Repeat([]byte(" "), 16<<10+1), []string{"16384"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, a := postAnnouncement(t, base, tt.body, node.key)
			if code != http.StatusBadRequest || a.Success == nil || *a.Success {
				t.Fatalf("got %d %+v, want 400 with success:false", code, a)
			}
			for _, w := range tt.want {
				if !strings.Contains(a.Error, w) {
					t.Errorf("error %q does not mention %q", a.Error, w)
				}
			}
			if strings.Contains(a.Error, "hunter2") {
				t.Errorf("error repeats a password: %q", a.Error)
			}
		})
	}
	if code, a := get(t, base+peersPath); code != 200 || *a.Total != 0 {
		t.Fatalf("refused announcements were registered: %+v", a)
	}
}

func TestAnnounceAcceptsLastSeenFromOlderClientsButSetsItsOwn(t *testing.T) {
	clk := newClock()
	_, base := startRegistry(t, RegistryConfig{Now: clk.Now})
	node := newTestNode(t, "alice")
	node.info.LastSeen = 42
	if code, a := node.announce(t, base); code != http.StatusOK {
		t.Fatalf("announce with lastSeen: %d %+v", code, a)
	}
	_, a := get(t, base+peersPath)
	if a.Peers[0].LastSeen != clk.Now().UnixMilli() {
		t.Fatalf("lastSeen = %d, want the registry's clock %d", a.Peers[0].LastSeen, clk.Now().UnixMilli())
	}
}

func TestAnnounceRequiresAValidSignature(t *testing.T) {
	_, base := startRegistry(t, RegistryConfig{})
	alice := newTestNode(t, "alice")
	mallory := newTestNode(t, "mallory")
	body := alice.body(t)

	unsigned := func() *http.Request {
		req, _ := http.NewRequest(http.MethodPost, base+announcePath, bytes.NewReader(body))
		return req
	}
	signed := func(key ed25519.PrivateKey, purpose, origin string, b []byte) func() *http.Request {
		return func() *http.Request {
			r := unsigned()
			ts, sig := identity.SignMessage(key, purpose, origin, time.Now(), b)
			r.Header.Set(HeaderPublicKey, identity.EncodePublicKey(alice.pub()))
			r.Header.Set(HeaderTimestamp, ts)
			r.Header.Set(HeaderSignature, sig)
			return r
		}
	}
	tests := []struct {
		name  string
		req   func() *http.Request
		wants string
	}{
		{"no headers", unsigned, HeaderSignature},
		{"signature of another body", signed(alice.key, identity.PurposeAnnounce, base, []byte(`{}`)), "does not verify"},
		{"key of one node, signature of another", signed(mallory.key, identity.PurposeAnnounce, base, body), "does not verify"},
		{"signed for another registry", signed(alice.key, identity.PurposeAnnounce, "http://other-registry.example:9000", body), "does not verify"},
		{"signed for another purpose", signed(alice.key, identity.PurposeDelete, base, body), "does not verify"},
		{"no timestamp", func() *http.Request {
			r := signed(alice.key, identity.PurposeAnnounce, base, body)()
			r.Header.Del(HeaderTimestamp)
			return r
		}, HeaderTimestamp},
		{"public key not base64", func() *http.Request {
			r := signed(alice.key, identity.PurposeAnnounce, base, body)()
			r.Header.Set(HeaderPublicKey, "not-a-key!")
			return r
		}, HeaderPublicKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, a := send(t, tt.req())
			if code != http.StatusUnauthorized || !strings.Contains(a.Error, tt.wants) {
				t.Fatalf("got %d %q, want 401 mentioning %q", code, a.Error, tt.wants)
			}
		})
	}
}

func TestHijackWithAnotherKeyIsRefused(t *testing.T) {
	clk := newClock()
	_, base := startRegistry(t, RegistryConfig{Now: clk.Now})
	alice := newTestNode(t, "alice")
	if code, _ := alice.announce(t, base); code != http.StatusOK {
		t.Fatal(code)
	}
	impostor := newTestNode(t, "alice")
	impostor.info.BTPEndpoint = "wss://evil.example:4000"

	check := func(when string) {
		t.Helper()
		code, a := impostor.announce(t, base)
		if code != http.StatusConflict || !strings.Contains(a.Error, "another public key") {
			t.Fatalf("%s: impostor got %d %q, want 409", when, code, a.Error)
		}
	}
	check("while alice is live")
	clk.Advance(3 * DefaultTTL)
	check("after alice expired")
	if code, a := deleteNow(t, base, "alice", alice.key); code != http.StatusOK {
		t.Fatalf("alice's own DELETE: %d %+v", code, a)
	}
	check("after alice deregistered")

	if code, _ := alice.announce(t, base); code != http.StatusOK {
		t.Fatalf("alice coming back with her key: %d", code)
	}
	_, a := get(t, base+peersPath)
	if len(a.Peers) != 1 || a.Peers[0].BTPEndpoint != alice.info.BTPEndpoint {
		t.Fatalf("list after hijack attempts: %+v", a.Peers)
	}
}

func TestSameKeyNewEndpointConflictsUntilTheEntryExpires(t *testing.T) {
	clk := newClock()
	_, base := startRegistry(t, RegistryConfig{Now: clk.Now})
	alice := newTestNode(t, "alice")
	alice.announce(t, base)
	moved := alice
	moved.info.BTPEndpoint = "wss://new.example:4000"
	if code, a := moved.announce(t, base); code != http.StatusConflict || !strings.Contains(a.Error, "btpEndpoint") {
		t.Fatalf("endpoint change while live: %d %q, want 409", code, a.Error)
	}
	clk.Advance(2*DefaultTTL + time.Millisecond)
	if code, a := moved.announce(t, base); code != http.StatusOK {
		t.Fatalf("endpoint change after expiry: %d %q", code, a.Error)
	}
	_, a := get(t, base+peersPath)
	if len(a.Peers) != 1 || a.Peers[0].BTPEndpoint != "wss://new.example:4000" {
		t.Fatalf("peers = %+v", a.Peers)
	}
}

func TestEntriesExpireAfterTwiceTheTTL(t *testing.T) {
	clk := newClock()
	_, base := startRegistry(t, RegistryConfig{Now: clk.Now, TTL: 30 * time.Second})
	alice, bob := newTestNode(t, "alice"), newTestNode(t, "bob")
	alice.announce(t, base)
	clk.Advance(40 * time.Second)
	bob.announce(t, base)

	steps := []struct {
		advance time.Duration
		want    []string
	}{
		{0, []string{"alice", "bob"}},
		{20 * time.Second, []string{"alice", "bob"}},         // alice at exactly 2×TTL: still listed
		{time.Millisecond, []string{"bob"}},                  // alice just past 2×TTL
		{40*time.Second - time.Millisecond, []string{"bob"}}, // bob at exactly 2×TTL
		{time.Millisecond, nil},                              // nobody
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		_, a := get(t, base+peersPath)
		if got := nodeIDs(a.Peers); !slices.Equal(got, s.want) || *a.Total != len(s.want) {
			t.Fatalf("step %d: listed %v (total %d), want %v", i, got, *a.Total, s.want)
		}
	}
	alice.announce(t, base)
	if _, a := get(t, base+peersPath); !slices.Equal(nodeIDs(a.Peers), []string{"alice"}) {
		t.Fatalf("re-announced alice not listed: %v", nodeIDs(a.Peers))
	}
}

func TestListFiltersByCapabilities(t *testing.T) {
	_, base := startRegistry(t, RegistryConfig{})
	evm, xrp, both := newTestNode(t, "evm"), newTestNode(t, "xrp"), newTestNode(t, "both")
	xrp.info.Capabilities = []string{"xrp-settlement"}
	both.info.Capabilities = []string{"xrp-settlement", "evm-settlement"}
	for _, n := range []testNode{evm, xrp, both} {
		if code, a := n.announce(t, base); code != 200 {
			t.Fatal(code, a.Error)
		}
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"both", "evm", "xrp"}},
		{"?capabilities=evm-settlement", []string{"both", "evm"}},
		{"?capabilities=xrp-settlement,evm-settlement", []string{"both"}},
		{"?capabilities=xrp-settlement&capabilities=evm-settlement", []string{"both"}},
		{"?capabilities=aptos-settlement", nil},
	}
	for _, tt := range tests {
		code, a := get(t, base+peersPath+tt.query)
		if code != 200 || !slices.Equal(nodeIDs(a.Peers), tt.want) {
			t.Errorf("GET %s: %d %v, want %v", tt.query, code, nodeIDs(a.Peers), tt.want)
		}
	}
	if code, a := get(t, base+peersPath+"?capabilities=teleport"); code != http.StatusBadRequest || !strings.Contains(a.Error, "teleport") {
		t.Errorf("unknown capability filter: %d %q, want 400 naming it", code, a.Error)
	}
}

func TestDeleteMustBeSignedByTheBoundKey(t *testing.T) {
	clk := newClock()
	_, base := startRegistry(t, RegistryConfig{Now: clk.Now})
	alice, mallory := newTestNode(t, "alice"), newTestNode(t, "mallory")
	alice.announce(t, base)

	unsigned, _ := http.NewRequest(http.MethodDelete, base+deletePath("alice"), nil)
	if code, a := send(t, unsigned); code != http.StatusUnauthorized || !strings.Contains(a.Error, HeaderSignature) {
		t.Fatalf("unsigned DELETE: %d %q, want 401", code, a.Error)
	}
	refused := []struct {
		name  string
		code  int
		send  func() (int, answer)
		wants string
	}{
		{"signed by another key", http.StatusUnauthorized, func() (int, answer) { return deleteSigned(t, base, "alice", mallory.key, clk.Now()) }, "does not verify"},
		{"stale timestamp", http.StatusUnauthorized, func() (int, answer) {
			return deleteSigned(t, base, "alice", alice.key, clk.Now().Add(-6*time.Minute))
		}, "too old"},
		{"timestamp 31 s ahead", http.StatusUnauthorized, func() (int, answer) {
			return deleteSigned(t, base, "alice", alice.key, clk.Now().Add(31*time.Second))
		}, "future"},
		{"signature for another node", http.StatusUnauthorized, func() (int, answer) {
			m := signedDelete(base, "bob", alice.key, clk.Now())
			m.path = deletePath("alice")
			return sendSigned(t, base, m)
		}, "does not verify"},
		{"unknown node", http.StatusNotFound, func() (int, answer) { return deleteSigned(t, base, "nobody", alice.key, clk.Now()) }, "not registered"},
		{"invalid node id", http.StatusBadRequest, func() (int, answer) { return deleteSigned(t, base, "a.b", alice.key, clk.Now()) }, "nodeId"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			code, a := tt.send()
			if code != tt.code || !strings.Contains(a.Error, tt.wants) || a.Success == nil || *a.Success {
				t.Fatalf("got %d %q, want %d mentioning %q", code, a.Error, tt.code, tt.wants)
			}
		})
	}
	if _, a := get(t, base+peersPath); len(a.Peers) != 1 {
		t.Fatalf("a refused DELETE removed the peer: %+v", a.Peers)
	}

	signedAt := signingTime(base, alice.key)
	if code, a := deleteSigned(t, base, "alice", alice.key, signedAt); code != http.StatusOK || a.Success == nil || !*a.Success {
		t.Fatalf("owner's DELETE: %d %+v", code, a)
	}
	if _, a := get(t, base+peersPath); len(a.Peers) != 0 {
		t.Fatalf("deleted peer still listed: %+v", a.Peers)
	}
	alice.announce(t, base)
	if code, a := deleteSigned(t, base, "alice", alice.key, signedAt); code != http.StatusUnauthorized || !strings.Contains(a.Error, "replay") {
		t.Fatalf("replayed DELETE: %d %q, want 401 replay", code, a.Error)
	}
	if _, a := get(t, base+peersPath); len(a.Peers) != 1 {
		t.Fatalf("replayed DELETE removed the re-announced peer")
	}
}
