package discovery

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

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
