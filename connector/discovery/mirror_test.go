package discovery

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/identity"
)

func TestMirrorServesWhatTheOtherRegistryVerifiedAndFollowsItsRemovals(t *testing.T) {
	_, a := startRegistry(t, RegistryConfig{})
	b, bURL := startRegistry(t, RegistryConfig{Mirrors: []string{a}})
	alice, bob := newTestNode(t, "alice"), newTestNode(t, "bob")
	alice.announce(t, a)
	bob.announce(t, bURL) // announced at the mirror itself
	b.pullMirrors(context.Background())
	if _, l, _ := getFeed(t, bURL+peersPath, ""); !slices.Equal(nodeIDs(l.Peers), []string{"alice", "bob"}) {
		t.Fatalf("mirror lists %v, want alice (from the other registry) and bob", nodeIDs(l.Peers))
	}
	if code, _ := deleteSigned(t, a, "alice", alice.key, b.cfg.Now()); code != http.StatusOK {
		t.Fatalf("DELETE at the origin: %d", code)
	}
	b.pullMirrors(context.Background())
	if _, l, _ := getFeed(t, bURL+peersPath, ""); !slices.Equal(nodeIDs(l.Peers), []string{"bob"}) {
		t.Fatalf("after alice deregistered at the origin the mirror lists %v", nodeIDs(l.Peers))
	}
}

func TestTwoRegistriesMirroringEachOtherListTheSameNodes(t *testing.T) {
	a, aURL := startRegistry(t, RegistryConfig{})
	b, bURL := startRegistry(t, RegistryConfig{})
	a.mirrors = mustMirror(t, a, bURL)
	b.mirrors = mustMirror(t, b, aURL)
	newTestNode(t, "alice").announce(t, aURL)
	newTestNode(t, "bob").announce(t, bURL)
	for range 2 { // each pulls twice: a mirrored entry must not come back as a new one
		a.pullMirrors(context.Background())
		b.pullMirrors(context.Background())
	}
	for _, u := range []string{aURL, bURL} {
		if _, l, _ := getFeed(t, u+peersPath, ""); !slices.Equal(nodeIDs(l.Peers), []string{"alice", "bob"}) {
			t.Fatalf("%s lists %v, want alice and bob", u, nodeIDs(l.Peers))
		}
	}
}

func mustMirror(t *testing.T, r *Registry, u string) []*mirror {
	t.Helper()
	m, err := newMirror(r, u)
	if err != nil {
		t.Fatal(err)
	}
	return []*mirror{m}
}

// TestMirrorServesNothingThatDoesNotVerify mirrors a hostile registry stand-in that serves one genuine entry
// and entries it altered or made up.
func TestMirrorServesNothingThatDoesNotVerify(t *testing.T) {
	_, origin := startRegistry(t, RegistryConfig{})
	honest, victim, other := newTestNode(t, "honest"), newTestNode(t, "victim"), newTestNode(t, "other")
	honest.announce(t, origin)
	victim.announce(t, origin)
	var signed struct {
		Peers []wirePeer `json:"peers"`
	}
	resp, err := http.Get(origin + peersPath + "?signed=1")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&signed); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	byID := map[string]wirePeer{}
	for _, p := range signed.Peers {
		if p.Signed == nil {
			t.Fatalf("signed=1 listing without the signed announcement: %+v", p)
		}
		byID[p.NodeID] = p
	}

	moved := byID["victim"] // endpoint changed, signed body left as it was
	moved.BTPEndpoint = "ws://attacker.example:4000"
	rekeyed := byID["victim"] // claims another key signed it
	rekeyed.NodeID, rekeyed.PublicKey = "victim2", identity.EncodePublicKey(other.pub())
	forged := wirePeer{PeerInfo: other.info, Signed: &SignedAnnouncement{Body: other.body(t), Signature: byID["honest"].Signed.Signature}}
	forged.PublicKey = byID["honest"].PublicKey
	unsigned := wirePeer{PeerInfo: other.info}
	unsigned.NodeID = "unsigned"
	hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"peers": []wirePeer{byID["honest"], moved, rekeyed, forged, unsigned}, "total": 5})
	}))
	defer hostile.Close()

	m, mURL := startRegistry(t, RegistryConfig{Mirrors: []string{hostile.URL}})
	m.pullMirrors(context.Background())
	if _, l, _ := getFeed(t, mURL+peersPath, ""); !slices.Equal(nodeIDs(l.Peers), []string{"honest"}) {
		t.Fatalf("mirror of a hostile registry lists %v, want only honest", nodeIDs(l.Peers))
	}
}

// TestMirrorRefusesAnAnnouncementOlderThanWhatItAccepted mirrors a hostile registry stand-in that keeps
// serving a node's genuine but old signed announcement: after the node's DELETE at the mirror, and after a
// newer announcement, the old one is a replay and is not served.
func TestMirrorRefusesAnAnnouncementOlderThanWhatItAccepted(t *testing.T) {
	clk := newClock()
	_, origin := startRegistry(t, RegistryConfig{Now: clk.Now})
	alice := newTestNode(t, "alice")
	alice.announce(t, origin)
	captured := signedEntry(t, origin, "alice")

	var mu sync.Mutex
	serving := captured
	hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"peers": []wirePeer{serving}, "total": 1})
	}))
	defer hostile.Close()
	serve := func(p wirePeer) { mu.Lock(); serving = p; mu.Unlock() }

	m, mURL := startRegistry(t, RegistryConfig{Now: clk.Now, Mirrors: []string{hostile.URL}})
	listed := func() []PeerInfo {
		m.pullMirrors(context.Background())
		_, l, _ := getFeed(t, mURL+peersPath, "")
		return l.Peers
	}
	if got := listed(); len(got) != 1 || got[0].BTPEndpoint != alice.info.BTPEndpoint {
		t.Fatalf("mirror lists %+v, want alice as she signed", got)
	}
	clk.Advance(time.Second)
	for _, u := range []string{origin, mURL} {
		if code, a := deleteNow(t, u, "alice", alice.key); code != http.StatusOK {
			t.Fatalf("alice's DELETE at %s: %d %q", u, code, a.Error)
		}
	}
	if got := listed(); len(got) != 0 {
		t.Fatalf("after alice's DELETE at the mirror, a replay of her older announcement is listed: %v", nodeIDs(got))
	}

	// Alice comes back at another endpoint: her newer announcement is served, and the old one cannot pin
	// her to the old endpoint again.
	clk.Advance(time.Second)
	alice.info.BTPEndpoint = "wss://alice-new.example:4000/"
	if code, a := alice.announce(t, origin); code != http.StatusOK {
		t.Fatalf("alice again at the origin: %d %q", code, a.Error)
	}
	serve(signedEntry(t, origin, "alice"))
	if got := listed(); len(got) != 1 || got[0].BTPEndpoint != alice.info.BTPEndpoint {
		t.Fatalf("mirror lists %+v, want alice at her new endpoint", got)
	}
	serve(captured)
	if got := listed(); len(got) != 1 || got[0].BTPEndpoint != alice.info.BTPEndpoint {
		t.Fatalf("an older signed announcement moved alice back: mirror lists %+v", got)
	}
}

// signedEntry is node id's entry at the registry at base with what it signed, as a mirror reads it.
func signedEntry(t *testing.T, base, id string) wirePeer {
	t.Helper()
	var l struct {
		Peers []wirePeer `json:"peers"`
	}
	getJSONInto(t, base+peersPath+"?signed=1", &l)
	for _, p := range l.Peers {
		if p.NodeID == id && p.Signed != nil {
			return p
		}
	}
	t.Fatalf("%s does not list %s with its signed announcement", base, id)
	return wirePeer{}
}
