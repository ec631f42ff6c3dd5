package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/metrics"
	"github.com/m2mnet/m2m/connector/routing"

	"github.com/m2mnet/m2m/internal/testenv"
)

// testClock is a clock both nodes share, so a token can expire without the test waiting for it.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// serveNodeAt starts a node that verifies signed tokens from "a" on addr ("127.0.0.1:0" for any port);
// stop closes it and returns once its port is free.
func serveNodeAt(t *testing.T, addr string, keyA ed25519.PrivateKey, clk *testClock) (*Node, string, func()) {
	t.Helper()
	pubA := keyA.Public().(ed25519.PublicKey)
	keys := identity.StaticKeys(map[string]ed25519.PublicKey{"a": pubA})
	n, err := New(Config{Address: "test.b", Authenticate: identity.NewAuthenticator("b", keys, clk.Now),
		Peers: []routing.Peer{{ID: "a", PublicKey: identity.EncodePublicKey(pubA), ILPPrefix: "test.a", Relation: routing.RelationPeer}},
	}, ledger.NewMemory(), metrics.New("test", "test", "go"), nil)
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
	stop := sync.OnceFunc(func() { closeNode(n); <-served })
	t.Cleanup(stop)
	return n, ln.Addr().String(), stop
}

func closeNode(n *Node) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = n.Close(ctx)
}

func peerState(n *Node, id string) State {
	for _, p := range n.Peers() {
		if p.ID == id {
			return p.State
		}
	}
	return ""
}

func TestRedialAfterThePeerRestartsPresentsAFreshSignedToken(t *testing.T) {
	tests := []struct {
		name      string
		fresh     bool // DialToken mints per dial; otherwise one token minted up front is reused
		reconnect bool
	}{
		{"token minted per dial reconnects", true, true},
		{"one fixed token stays refused once expired", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &testClock{t: time.Now()}
			keyA := testKey(t)
			mint := func() string { return identity.NewTokenAt(keyA, "a", "b", clk.Now(), time.Second) }
			_, addrB, stopB := serveNodeAt(t, "127.0.0.1:0", keyA, clk)

			peerB := routing.Peer{ID: "b", ILPPrefix: "test.b", BTPURL: "ws://" + addrB + "/", Relation: routing.RelationPeer,
				PublicKey: identity.EncodePublicKey(testKey(t).Public().(ed25519.PublicKey))}
			if tt.fresh {
				peerB.DialToken = mint
			} else {
				peerB.AuthToken = mint()
			}
			a, _ := startNode(t, Config{Address: "test.a", Backoff: btp.Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond},
				Peers: []routing.Peer{peerB}}, ledger.NewMemory())
			if err := a.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			waitConnected(t, a, "b")

			// Well past the token's life and the verifier's clock skew, B restarts on the same port.
			clk.Advance(identity.MaxTokenTTL + time.Minute)
			stopB()
			testenv.WaitFor(t, 30*time.Second, "A sees B gone", func() bool { return peerState(a, "b") == Disconnected })
			b2, _, _ := serveNodeAt(t, addrB, keyA, clk)

			if tt.reconnect {
				testenv.WaitFor(t, 30*time.Second, "A reconnected to the restarted B", func() bool { return peerState(b2, "a") == Connected })
				return
			}
			time.Sleep(time.Second) // some ten redials at this backoff
			if s := peerState(b2, "a"); s == Connected {
				t.Fatalf("restarted B accepted an expired token: a is %s", s)
			}
		})
	}
}

func TestCheckSharedTokenKnowsOnlyThePeersTokens(t *testing.T) {
	n, err := New(Config{Address: "test.a", Peers: []routing.Peer{
		{ID: "kid", AuthToken: "tok-kid", Relation: routing.RelationChild},
		{ID: "keyed", PublicKey: identity.EncodePublicKey(testKey(t).Public().(ed25519.PublicKey)), ILPPrefix: "test.k", Relation: routing.RelationPeer},
	}}, ledger.NewMemory(), metrics.New("test", "test", "go"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeNode(n)
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if id, err := n.CheckSharedToken(t.Context(), "tok-kid"); err != nil || id != "kid" {
		t.Fatalf("peers file token: %q, %v", id, err)
	}
	for _, tok := range []string{"", "tok-other"} {
		if id, err := n.CheckSharedToken(t.Context(), tok); !errors.Is(err, routing.ErrUnknownToken) {
			t.Errorf("token %q: %q, %v; want ErrUnknownToken (a keyed peer has no shared token)", tok, id, err)
		}
	}
}

func TestAddPeerRefusesADialledPeerWithNothingToDialWith(t *testing.T) {
	n, err := New(Config{Address: "test.a"}, ledger.NewMemory(), metrics.New("test", "test", "go"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeNode(n)
	p := routing.Peer{ID: "b", ILPPrefix: "test.b", BTPURL: "ws://127.0.0.1:1/", Relation: routing.RelationPeer,
		PublicKey: identity.EncodePublicKey(testKey(t).Public().(ed25519.PublicKey))}
	if err := n.AddPeer(t.Context(), p); err == nil {
		t.Fatal("added a peer to dial without any token")
	}
	p.DialToken = func() string { return "t" }
	if err := n.AddPeer(t.Context(), p); err != nil {
		t.Fatalf("with a DialToken: %v", err)
	}
}
