package discovery

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/metrics"
	"github.com/m2mnet/m2m/connector/node"
	"github.com/m2mnet/m2m/connector/routing"

	"github.com/m2mnet/m2m/internal/testenv"
)

// nodeAdapter hands discovered peers to a real node for these tests, as the connector's own sink does
// (cmd/m2m-connector; it lives there so that this package never links the node): a peer of relation
// "peer" routed by its address, dialled with a fresh signed token unless it dialled in.
type nodeAdapter struct {
	node *node.Node
	self string
	key  ed25519.PrivateKey
}

func (a *nodeAdapter) AddPeer(ctx context.Context, p Peer) error {
	rp := routing.Peer{ID: p.NodeID, ILPPrefix: p.ILPAddress, Relation: routing.RelationPeer, PublicKey: identity.EncodePublicKey(p.PublicKey)}
	if !p.Inbound {
		rp.BTPURL = p.BTPEndpoint
		rp.DialToken = func() string { return identity.NewToken(a.key, a.self, p.NodeID, time.Minute) }
	}
	return a.node.AddPeer(ctx, rp)
}

func (a *nodeAdapter) Connected(nodeID string) bool {
	for _, st := range a.node.Peers() {
		if st.ID == nodeID {
			return st.State == node.Connected
		}
	}
	return false
}

func (a *nodeAdapter) RemovePeer(nodeID string) { a.node.RemovePeer(nodeID) }

// runningNode is a real connector node serving BTP on 127.0.0.1, wired to a discovery client.
type runningNode struct {
	testNode
	node   *node.Node
	client *Client
	cancel context.CancelFunc
	done   <-chan error
	once   sync.Once
}

func startNode(t *testing.T, name, registry string, interval time.Duration, maxPeers ...int) *runningNode {
	t.Helper()
	tn := newTestNode(t, name)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tn.info.BTPEndpoint = "ws://" + ln.Addr().String() + "/"
	var auth atomic.Pointer[func(context.Context, string) (string, error)]
	n, err := node.New(node.Config{
		Address: tn.info.ILPAddress, AssetCode: "USD", AssetScale: 9,
		Authenticate: func(ctx context.Context, tok string) (string, error) { return (*auth.Load())(ctx, tok) },
		Backoff:      btp.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond},
	}, ledger.NewMemory(), metrics.New("test", "test", "go"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go n.Serve(ctx, ln)
	c, err := NewClient(ClientConfig{
		Endpoints: []string{registry}, Self: tn.info, Key: tn.key, Interval: interval, AllowPrivate: true, MaxPeers: append(maxPeers, 0)[0],
		Sink: &nodeAdapter{node: n, self: name, key: tn.key},
	})
	if err != nil {
		t.Fatal(err)
	}
	a := c.Authenticator(nil, nil)
	auth.Store(&a)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	rn := &runningNode{testNode: tn, node: n, client: c, cancel: cancel, done: done}
	t.Cleanup(rn.stop)
	return rn
}

// stop ends the client (which deregisters) and closes the node; it may be called more than once.
func (r *runningNode) stop() {
	r.once.Do(func() {
		r.cancel()
		<-r.done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.node.Close(ctx)
	})
}

func (r *runningNode) connectedPeers() []string {
	var ids []string
	for _, p := range r.node.Peers() {
		if p.State == node.Connected {
			ids = append(ids, p.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func TestThreeConnectorsDiscoverAndConnectOverBTP(t *testing.T) {
	const interval = 500 * time.Millisecond
	_, registry := startRegistry(t, RegistryConfig{AllowPrivate: true}) // the nodes live on 127.0.0.1
	names := []string{"alice", "bob", "carol"}
	nodes := map[string]*runningNode{}
	var lastStart time.Time
	for i, name := range names {
		if i > 0 {
			time.Sleep(interval / 3)
		}
		lastStart = time.Now()
		nodes[name] = startNode(t, name, registry, interval)
	}
	testenv.WaitFor(t, 30*time.Second, "three connectors with BTP sessions to both others", func() bool {
		for _, n := range nodes {
			if len(n.connectedPeers()) != 2 {
				return false
			}
		}
		return true
	})
	t.Logf("all three connected over BTP %s after the last one started (announce interval %s)",
		time.Since(lastStart).Round(time.Millisecond), interval)
	for _, name := range names {
		if d, c := nodes[name].client.Counts(); d != 2 || c != 2 {
			t.Errorf("%s Counts() = %d, %d; want 2 discovered, 2 connected", name, d, c)
		}
	}

	// A node the registry does not know, and one claiming a known id with another key, are refused.
	for _, tc := range []struct{ name, id string }{
		{"unregistered node", "mallory"},
		{"known id, other key", "bob"},
	} {
		stranger := newTestNode(t, tc.id)
		_, err := btp.Dial(context.Background(), btp.DialConfig{
			URL: nodes["alice"].info.BTPEndpoint, PeerID: "alice",
			Token: identity.NewToken(stranger.key, tc.id, "alice", time.Minute),
		})
		if !errors.Is(err, btp.ErrAuthRejected) {
			t.Errorf("%s dialing alice: %v, want ErrAuthRejected", tc.name, err)
		}
	}

	// carol shuts down: she deregisters, and the others drop her at their next tick.
	nodes["carol"].stop()
	testenv.WaitFor(t, 30*time.Second, "carol removed from alice and bob", func() bool {
		for _, name := range []string{"alice", "bob"} {
			for _, p := range nodes[name].node.Peers() {
				if p.ID == "carol" {
					return false
				}
			}
		}
		return true
	})
	if d, c := nodes["alice"].client.Counts(); d != 1 || c != 1 {
		t.Errorf("alice after carol left: Counts() = %d, %d; want 1, 1", d, c)
	}
}
