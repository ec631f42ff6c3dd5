package main

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/discovery"
	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/metrics"
	"github.com/m2mnet/m2m/connector/node"
	"github.com/m2mnet/m2m/connector/routing"
	"github.com/m2mnet/m2m/internal/testenv"
)

// testClock is a clock a test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// serveBob runs node bob on addr, accepting alice's signed tokens by bob's clock; stop frees the port.
func serveBob(t *testing.T, addr string, alice ed25519.PublicKey, now func() time.Time) (bound string, stop func()) {
	t.Helper()
	keys := identity.StaticKeys(map[string]ed25519.PublicKey{"alice": alice})
	n, err := node.New(node.Config{Address: "g.m2m.bob", Authenticate: identity.NewAuthenticator("bob", keys, now),
		Peers: []routing.Peer{{ID: "alice", PublicKey: identity.EncodePublicKey(alice), ILPPrefix: "g.m2m.alice", Relation: routing.RelationPeer}},
	}, ledger.NewMemory(), metrics.New("t", "t", "go"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { _ = n.Serve(context.Background(), ln); close(served) }()
	stop = sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = n.Close(ctx)
		<-served
	})
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

func TestNodeSinkPeerReconnectsToARestartedPeerLongAfterItsFirstTokenExpired(t *testing.T) {
	clk := &testClock{t: time.Now()}
	alice, bob := genKey(t), genKey(t)
	addrB, stopB := serveBob(t, "127.0.0.1:0", alice.Public().(ed25519.PublicKey), clk.Now)

	a, err := node.New(node.Config{Address: "g.m2m.alice", Backoff: btp.Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond}},
		ledger.NewMemory(), metrics.New("t", "t", "go"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	// No dial control: bob lives on 127.0.0.1, as with the private-network opt-in.
	sink := &nodeSink{node: a, self: "alice", key: alice, tokenTTL: time.Second, now: clk.Now,
		credit: newCreditBudget(0, 0, ledger.NewMemory(), slog.New(slog.DiscardHandler))}
	if err := sink.AddPeer(t.Context(), discovery.Peer{NodeID: "bob", BTPEndpoint: "ws://" + addrB + "/", ILPAddress: "g.m2m.bob",
		PublicKey: bob.Public().(ed25519.PublicKey)}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 30*time.Second, "alice connected to bob", func() bool { return sink.Connected("bob") })

	clk.Advance(identity.MaxTokenTTL + time.Minute)
	stopB()
	testenv.WaitFor(t, 30*time.Second, "alice sees bob gone", func() bool { return !sink.Connected("bob") })
	serveBob(t, addrB, alice.Public().(ed25519.PublicKey), clk.Now)
	// No new AddPeer: the node's own redial must present a token valid by the (advanced) clock.
	testenv.WaitFor(t, 30*time.Second, "alice reconnected to the restarted bob", func() bool { return sink.Connected("bob") })
}
