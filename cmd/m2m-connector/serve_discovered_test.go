package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/discovery"
	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/connector/ilp"
	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/metrics"
	"github.com/m2mnet/m2m/connector/node"
	"github.com/m2mnet/m2m/connector/routing"
	"github.com/m2mnet/m2m/internal/testenv"
)

// syncBuffer is a log destination that tests read while the node writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// bobNode is node "bob" serving BTP on 127.0.0.1 with one static child, "payee", and a nodeSink for the
// peers discovery would hand it; payee counts the Prepares that reach it and fulfills them.
type bobNode struct {
	node    *node.Node
	ledger  *ledger.Memory
	url     string
	key     ed25519.PrivateKey
	sink    *nodeSink
	keysMu  sync.Mutex
	keys    map[string]ed25519.PublicKey // discovered peers' keys, as the registry would give them
	payee   *btp.Session
	reached atomic.Int64
	logs    *syncBuffer
	metrics *metrics.Metrics
}

var testPreimage = sha256.Sum256([]byte("preimage"))

func startBob(t *testing.T, perPeer, total uint64) *bobNode {
	t.Helper()
	b := &bobNode{ledger: ledger.NewMemory(), key: genKey(t), keys: map[string]ed25519.PublicKey{}, logs: &syncBuffer{}}
	log := slog.New(slog.NewJSONHandler(b.logs, nil))
	lookup := func(id string) (ed25519.PublicKey, bool) {
		b.keysMu.Lock()
		defer b.keysMu.Unlock()
		k, ok := b.keys[id]
		return k, ok
	}
	var n *node.Node
	shared := func(ctx context.Context, tok string) (string, error) { return n.CheckSharedToken(ctx, tok) }
	b.metrics = metrics.New("t", "t", "go")
	n, err := node.New(node.Config{Address: "g.m2m.bob", AssetCode: "USD", AssetScale: 6,
		Peers:        []routing.Peer{{ID: "payee", AuthToken: "tok-payee", Relation: routing.RelationChild, CreditLimit: 1000}},
		Authenticate: staticAuthenticator("bob", lookup, shared),
	}, b.ledger, b.metrics, log)
	if err != nil {
		t.Fatal(err)
	}
	b.node = n
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { _ = n.Serve(context.Background(), ln); close(served) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = n.Close(ctx)
		<-served
	})
	b.url = "ws://" + ln.Addr().String() + "/"
	b.sink = &nodeSink{node: n, self: "bob", key: b.key, dialControl: discovery.DialControl,
		credit: newCreditBudget(perPeer, total, b.ledger, log)}
	b.payee, err = btp.Dial(t.Context(), btp.DialConfig{URL: b.url, Token: "tok-payee", PeerID: "bob",
		Session: btp.SessionConfig{Handler: btp.HandlerFunc(func(context.Context, string, []byte) []byte {
			b.reached.Add(1)
			f, _ := (&ilp.Fulfill{Fulfillment: testPreimage}).MarshalBinary()
			return f
		})}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.payee.Close() })
	testenv.WaitFor(t, 30*time.Second, "payee connected", func() bool { return b.connected("payee") })
	return b
}

func (b *bobNode) connected(id string) bool {
	for _, p := range b.node.Peers() {
		if p.ID == id {
			return p.State == node.Connected
		}
	}
	return false
}

// discover hands bob a discovered peer, as the discovery client would, and connects as that peer.
func (b *bobNode) discover(t *testing.T, id string) (*btp.Session, error) {
	t.Helper()
	key := genKey(t)
	b.keysMu.Lock()
	b.keys[id] = key.Public().(ed25519.PublicKey)
	b.keysMu.Unlock()
	err := b.sink.AddPeer(t.Context(), discovery.Peer{NodeID: id, BTPEndpoint: "wss://" + id + ".example:4000",
		ILPAddress: "g.m2m." + id, PublicKey: key.Public().(ed25519.PublicKey), Inbound: true})
	if err != nil {
		return nil, err
	}
	s, err := btp.Dial(t.Context(), btp.DialConfig{URL: b.url, Token: identity.NewToken(key, id, "bob", time.Minute), PeerID: "bob"})
	if err != nil {
		t.Fatalf("%s dial bob: %v", id, err)
	}
	t.Cleanup(func() { s.Close() })
	testenv.WaitFor(t, 30*time.Second, id+" connected", func() bool { return b.connected(id) })
	return s, nil
}

// pay sends amount to bob's payee and returns the ILP code ("" for a Fulfill).
func pay(t *testing.T, s *btp.Session, amount uint64) ilp.Code {
	t.Helper()
	cond := sha256.Sum256(testPreimage[:])
	p, _ := (&ilp.Prepare{Amount: amount, ExpiresAt: time.Now().Add(30 * time.Second), ExecutionCondition: cond,
		Destination: "g.m2m.bob.payee.x"}).MarshalBinary()
	resp, err := s.SendPrepare(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ilp.DecodeFulfill(resp); err == nil {
		return ""
	}
	j, err := ilp.DecodeReject(resp)
	if err != nil {
		t.Fatalf("answer is neither Fulfill nor Reject: %x", resp)
	}
	return j.Code
}

func TestDiscoveredPeerWithNoPeersFileEntryCannotOweTheNode(t *testing.T) {
	b := startBob(t, 0, 0) // the defaults of DISCOVERED_PEER_CREDIT_LIMIT and DISCOVERED_PEERS_CREDIT_TOTAL
	stranger, err := b.discover(t, "stranger")
	if err != nil {
		t.Fatal(err)
	}
	if code := pay(t, stranger, 1); code != ilp.T04InsufficientLiquidity {
		t.Fatalf("a stranger's Prepare of 1 unit: %q, want T04", code)
	}
	if n := b.reached.Load(); n != 0 {
		t.Fatalf("%d Prepares from a stranger were forwarded", n)
	}
}

func TestCreditToDiscoveredPeersIsCappedInTotal(t *testing.T) {
	b := startBob(t, 600, 1000)
	first, _ := b.discover(t, "aaa")
	second, _ := b.discover(t, "aab") // 600 + 600 > 1000: no credit
	if code := pay(t, first, 100); code != "" {
		t.Fatalf("first discovered peer, 100 of its 600: %q, want fulfilled", code)
	}
	if code := pay(t, first, 600); code != ilp.T04InsufficientLiquidity {
		t.Fatalf("first discovered peer past its 600: %q, want T04", code)
	}
	if code := pay(t, second, 1); code != ilp.T04InsufficientLiquidity {
		t.Fatalf("second discovered peer, past the total: %q, want T04", code)
	}
	if n := b.reached.Load(); n != 1 {
		t.Fatalf("payee reached %d times, want once (only the first payment)", n)
	}
	// An account made earlier with a larger limit (an older release gave discovered peers
	// DEFAULT_CREDIT_LIMIT) counts against the total and does not fit: that peer is not added at all.
	if err := b.ledger.EnsureAccount(t.Context(), "old", 1_000_000); err != nil {
		t.Fatal(err)
	}
	if err := b.sink.AddPeer(t.Context(), discovery.Peer{NodeID: "old", BTPEndpoint: "wss://old.example:4000", ILPAddress: "g.m2m.old",
		PublicKey: genKey(t).Public().(ed25519.PublicKey)}); !errors.Is(err, errOverBudget) {
		t.Fatalf("peer with an old 1,000,000 limit: %v, want errOverBudget", err)
	}
	if slices.ContainsFunc(b.node.Peers(), func(p node.PeerStatus) bool { return p.ID == "old" }) {
		t.Fatal("the over-budget peer was added to the node")
	}
}

func TestDiscoveredPeerIsNotDialledAtANameThatResolvesToLoopback(t *testing.T) {
	b := startBob(t, 0, 0)
	u, accepted := countingListener(t)
	_, port, _ := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(u, "ws://"), "/"))
	// bob chose zed (not Inbound): bob dials it. The name would fail the client's static check; this test
	// calls the sink directly, so that the dialler alone must refuse the address it resolves to.
	if err := b.sink.AddPeer(t.Context(), discovery.Peer{NodeID: "zed", BTPEndpoint: "ws://localhost:" + port + "/", ILPAddress: "g.m2m.zed",
		PublicKey: genKey(t).Public().(ed25519.PublicKey)}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 30*time.Second, "a refused dial logged", func() bool {
		return strings.Contains(b.logs.String(), "BTP connect failed") && strings.Contains(b.logs.String(), discovery.ErrInternalTarget.Error())
	})
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the loopback listener got %d connections", n)
	}
}

func TestNodeSinkLeavesStaticPeersAlone(t *testing.T) {
	n, err := node.New(node.Config{Address: "g.m2m.alice", AssetCode: "USD", AssetScale: 9}, ledger.NewMemory(), metrics.New("t", "t", "go"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	sink := &nodeSink{node: n, self: "alice", key: genKey(t), static: func(id string) bool { return id == "bob" },
		credit: newCreditBudget(0, 0, ledger.NewMemory(), slog.New(slog.DiscardHandler))}
	for _, id := range []string{"bob", "carol"} {
		if err := sink.AddPeer(context.Background(), discovery.Peer{NodeID: id, BTPEndpoint: "wss://" + id + ".example:4000",
			ILPAddress: "g.m2m." + id, PublicKey: genKey(t).Public().(ed25519.PublicKey)}); err != nil {
			t.Fatalf("AddPeer(%s): %v", id, err)
		}
	}
	var ids []string
	for _, p := range n.Peers() {
		ids = append(ids, p.ID)
	}
	if !slices.Equal(ids, []string{"carol"}) {
		t.Fatalf("node peers %v, want only carol (bob is static)", ids)
	}
	sink.RemovePeer("carol")
	if len(n.Peers()) != 0 {
		t.Fatalf("carol not removed: %v", n.Peers())
	}
}

func TestBTPPortClosesPlainHTTPAndCountsRefusals(t *testing.T) {
	b := startBob(t, 0, 0)
	host := strings.TrimSuffix(strings.TrimPrefix(b.url, "ws://"), "/")
	for range 3 {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if !resp.Close {
			t.Fatal("the BTP port kept a plain HTTP connection alive")
		}
		c.Close()
	}
	if _, err := btp.Dial(t.Context(), btp.DialConfig{URL: b.url, Token: "tok-guess", PeerID: "bob"}); !errors.Is(err, btp.ErrAuthRejected) {
		t.Fatalf("guessed token: %v", err)
	}
	testenv.WaitFor(t, 30*time.Second, "refusals counted", func() bool {
		return refusedCount(t, b.metrics, btp.RefusedNotUpgrade) == 3 && refusedCount(t, b.metrics, btp.RefusedAuth) == 1
	})
	if n := strings.Count(b.logs.String(), "refused a BTP connection"); n != 1 {
		t.Fatalf("%d refusal lines for 4 refusals from one address within a minute, want 1", n)
	}
}

// refusedCount reads m2m_btp_connections_refused_total{reason} from the registry, as /metrics serves it.
func refusedCount(t *testing.T, m *metrics.Metrics, reason string) float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "m2m_btp_connections_refused_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return s.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
