package discovery

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/internal/testenv"
)

// hostileRegistry is a stand-in for a registry that lies: it accepts every announcement and lists peers
// that claim addresses they do not own or point at internal targets, next to one honest peer.
func hostileRegistry(t *testing.T, peers []PeerInfo) (base string, lists *atomic.Int64) {
	t.Helper()
	lists = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case announcePath:
			writeJSON(w, http.StatusOK, map[string]any{"success": true, "ttl": 120})
		case peersPath:
			defer lists.Add(1)
			writeJSON(w, http.StatusOK, map[string]any{"peers": peers, "total": len(peers), "networkPrefix": "g"})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, lists
}

func hostilePeer(t *testing.T, id, addr, endpoint string) PeerInfo {
	n := newTestNode(t, id)
	return PeerInfo{NodeID: id, ILPAddress: addr, BTPEndpoint: endpoint, Capabilities: []string{}, Version: "x",
		LastSeen: time.Now().UnixMilli(), PublicKey: identity.EncodePublicKey(n.pub())}
}

func TestClientDropsPeersAHostileRegistryLists(t *testing.T) {
	const interval = 30 * time.Millisecond
	public := "wss://mallory.example:4000"
	bad := []PeerInfo{
		hostilePeer(t, "m1", "g.m2m.alice", public),               // this node's own address
		hostilePeer(t, "m2", "g.m2m", public),                     // the parent prefix: covers every node
		hostilePeer(t, "m3", "g.m2m.alice.payee", public),         // under this node's address
		hostilePeer(t, "m4", "g.m2m.carol", public),               // a static peer's prefix
		hostilePeer(t, "m5", "g.m2m.carol.shop", public),          // under a static peer's prefix
		hostilePeer(t, "m6", "g.m6", public),                      // right id, another prefix
		hostilePeer(t, "m7", "g.m2m.m7", "ws://169.254.169.254/"), // cloud metadata
		hostilePeer(t, "m8", "g.m2m.m8", "ws://127.0.0.1:8080"),
		hostilePeer(t, "m9", "g.m2m.m9", "ws://localhost:2375"),
		hostilePeer(t, "m10", "g.m2m.m10", "ws://10.0.0.1:4000"),
		hostilePeer(t, "m11", "g.m2m.m11", "ws://[::1]:4000"),
		hostilePeer(t, "m12", "g.m2m.m12", "ws://0.0.0.0:4000"),
	}
	honest := hostilePeer(t, "honest", "g.m2m.honest", "wss://honest.example:4000")
	base, lists := hostileRegistry(t, append(bad, honest))

	alice := newTestNode(t, "alice")
	sink := &recordingSink{}
	logs := &logBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, done := startClient(t, ctx, ClientConfig{
		Endpoints: []string{base}, Self: alice.info, Key: alice.key, Sink: sink, Interval: interval,
		StaticPrefixes: []string{"g.m2m.carol"}, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	})
	testenv.WaitFor(t, 30*time.Second, "the honest peer handed over", func() bool { return slices.Contains(sink.ids(), "honest") })
	// Three more rounds: a dropped peer stays dropped and is logged once.
	after := lists.Load()
	testenv.WaitFor(t, 30*time.Second, "three more listings", func() bool { return lists.Load() >= after+3 })
	if got := sink.ids(); !slices.Equal(got, []string{"honest"}) {
		t.Fatalf("peers handed to the node: %v, want only honest", got)
	}
	if got := nodeIDs(c.Peers()); !slices.Equal(got, []string{"honest"}) {
		t.Fatalf("client view %v, want only honest", got)
	}
	if n := logs.count("WARN", "ignoring discovered peer"); n != len(bad) {
		t.Fatalf("%d warnings for %d dropped peers over several intervals, want one each", n, len(bad))
	}
	cancel()
	<-done
}

func TestClientWithTheOptInKeepsPrivateEndpointsButStillChecksAddresses(t *testing.T) {
	lan := hostilePeer(t, "lan", "g.m2m.lan", "ws://10.0.0.1:4000")
	hijack := hostilePeer(t, "m2", "g.m2m", "ws://10.0.0.2:4000")
	base, _ := hostileRegistry(t, []PeerInfo{lan, hijack})
	alice := newTestNode(t, "alice")
	c, err := NewClient(ClientConfig{Endpoints: []string{base}, Self: alice.info, Key: alice.key, Sink: &recordingSink{}, AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(context.Background(), false)
	if got := nodeIDs(c.Peers()); !slices.Equal(got, []string{"lan"}) {
		t.Fatalf("view %v, want [lan]", got)
	}
}

func TestNewClientRefusesAnAddressThatIsNotItsOwn(t *testing.T) {
	alice := newTestNode(t, "alice")
	alice.info.ILPAddress = "g.m2m.bob"
	if _, err := NewClient(ClientConfig{Endpoints: []string{"http://r.example"}, Self: alice.info, Key: alice.key, Sink: &recordingSink{}}); err == nil {
		t.Fatal("a node announcing another node's address was accepted")
	}
}
