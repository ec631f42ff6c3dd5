package node

import (
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/ilp"
	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/metrics"
	"github.com/m2mnet/m2m/connector/pipeline"
	"github.com/m2mnet/m2m/connector/routing"
)

var (
	preimage  = [32]byte{'m', '2', 'm'}
	condition = sha256.Sum256(preimage[:])
)

// receiver answers like a payee that knows preimage: destinations ending in .wrong get a bad fulfillment,
// .slow an answer only after ctx is done, anything else the fulfillment.
var receiver = btp.HandlerFunc(func(ctx context.Context, _ string, raw []byte) []byte {
	p, err := ilp.DecodePrepare(raw)
	if err != nil {
		b, _ := (&ilp.Reject{Code: ilp.F01InvalidPacket}).MarshalBinary()
		return b
	}
	f := ilp.Fulfill{Fulfillment: preimage, Data: []byte("thanks")}
	switch {
	case strings.HasSuffix(p.Destination, ".wrong"):
		f.Fulfillment = [32]byte{1}
	case strings.HasSuffix(p.Destination, ".slow"):
		<-ctx.Done()
		time.Sleep(10 * time.Millisecond)
	}
	b, _ := f.MarshalBinary()
	return b
})

// pair is two connectors A and B peered over loopback BTP (A dials B), a sender child of A and a receiver
// child of B, each connected over its own WebSocket.
type pair struct {
	a, b       *Node
	la, lb     *ledger.Memory
	urlA, urlB string
	sender     *btp.Session
}

func startNode(t *testing.T, cfg Config, l ledger.Ledger) (*Node, string) {
	t.Helper()
	return startNodeTB(t, cfg, l)
}

func startNodeTB(t testing.TB, cfg Config, l ledger.Ledger) (*Node, string) {
	t.Helper()
	n, err := New(cfg, l, metrics.New("test", "test", "go"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = n.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = n.Close(ctx)
	})
	return n, "ws://" + ln.Addr().String() + "/"
}

func newPair(t *testing.T) *pair {
	t.Helper()
	ctx := t.Context()
	p := &pair{la: ledger.NewMemory(), lb: ledger.NewMemory()}
	p.b, p.urlB = startNode(t, Config{Address: "test.b", AssetCode: "XRP", AssetScale: 9,
		// MaxHold keeps the slow-receiver test short: B gives its child 1.5 s at most.
		Pipeline: pipeline.Config{MaxHold: 1500 * time.Millisecond},
		Peers: []routing.Peer{
			{ID: "a", AuthToken: "tok-ab", ILPPrefix: "test.a", Relation: routing.RelationPeer, CreditLimit: 1e9},
			{ID: "receiver", AuthToken: "tok-recv", Relation: routing.RelationChild},
		}}, p.lb)
	if err := p.b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	p.a, p.urlA = startNode(t, Config{Address: "test.a", AssetCode: "XRP", AssetScale: 9,
		Backoff: btp.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		Peers: []routing.Peer{
			{ID: "b", AuthToken: "tok-ab", ILPPrefix: "test.b", BTPURL: p.urlB, Relation: routing.RelationPeer, CreditLimit: 1e9},
			{ID: "sender", AuthToken: "tok-send", Relation: routing.RelationChild, MaxPacketAmount: 1000, CreditLimit: 10_000},
		}}, p.la)
	if err := p.a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	recv, err := btp.Dial(ctx, btp.DialConfig{URL: p.urlB, Token: "tok-recv", PeerID: "b", Session: btp.SessionConfig{Handler: receiver}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { recv.Close() })
	if p.sender, err = btp.Dial(ctx, btp.DialConfig{URL: p.urlA, Token: "tok-send", PeerID: "a"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.sender.Close() })
	waitConnected(t, p.a, "b", "sender")
	waitConnected(t, p.b, "a", "receiver")
	return p
}

func waitConnected(t testing.TB, n *Node, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		up := map[string]bool{}
		for _, s := range n.Peers() {
			up[s.ID] = s.State == Connected
		}
		all := true
		for _, id := range ids {
			all = all && up[id]
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: peers %v not all connected: %+v", n.Address(), ids, n.Peers())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *pair) send(t *testing.T, amount uint64, dest string, expiry time.Duration) ([]byte, time.Duration) {
	t.Helper()
	raw, err := (&ilp.Prepare{Amount: amount, ExpiresAt: time.Now().Add(expiry), ExecutionCondition: condition, Destination: dest}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := p.sender.SendPrepare(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return resp, time.Since(start)
}

func balance(t *testing.T, l ledger.Ledger, peer string) ledger.Balance {
	t.Helper()
	b, err := l.Balance(context.Background(), peer)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPrepareThroughTwoConnectorsIsFulfilledAndBooked(t *testing.T) {
	p := newPair(t)
	resp, _ := p.send(t, 250, "test.b.receiver.invoice7", 10*time.Second)
	f, err := ilp.DecodeFulfill(resp)
	if err != nil {
		j, _ := ilp.DecodeReject(resp)
		t.Fatalf("not fulfilled: %v (%+v)", err, j)
	}
	if f.Fulfillment != preimage || string(f.Data) != "thanks" {
		t.Fatalf("fulfill %+v was changed on the way", f)
	}
	for _, c := range []struct {
		name   string
		l      ledger.Ledger
		peer   string
		dr, cr uint64
	}{
		{"A debits the sender", p.la, "sender", 250, 0},
		{"A credits B", p.la, "b", 0, 250},
		{"B debits A", p.lb, "a", 250, 0},
		{"B credits the receiver", p.lb, "receiver", 0, 250},
	} {
		b := balance(t, c.l, c.peer)
		if b.DebitsPosted != c.dr || b.CreditsPosted != c.cr || b.DebitsPending != 0 || b.CreditsPending != 0 {
			t.Errorf("%s: balance %+v, want debits %d credits %d posted, nothing pending", c.name, b, c.dr, c.cr)
		}
	}
}

func TestRejectsNameTheFault(t *testing.T) {
	p := newPair(t)
	tests := []struct {
		name        string
		amount      uint64
		dest        string
		expiry      time.Duration
		code        ilp.Code
		triggeredBy string
	}{
		{"wrong fulfillment", 10, "test.b.receiver.wrong", 10 * time.Second, ilp.F05WrongCondition, "test.b"},
		{"slow next hop", 10, "test.b.receiver.slow", 10 * time.Second, ilp.R00TransferTimedOut, "test.b"},
		{"unknown prefix", 10, "test.nowhere.x", 10 * time.Second, ilp.F02Unreachable, "test.a"},
		{"own address without receiver", 10, "test.b", 10 * time.Second, ilp.F02Unreachable, "test.b"},
		{"over the max packet amount", 1001, "test.b.receiver.x", 10 * time.Second, ilp.F08AmountTooLarge, "test.a"},
		{"too little time left at the second hop", 10, "test.b.receiver.x", 2500 * time.Millisecond, ilp.R02InsufficientTimeout, "test.b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := p.send(t, tt.amount, tt.dest, tt.expiry)
			j, err := ilp.DecodeReject(resp)
			if err != nil {
				t.Fatalf("answer is not a reject: %v", err)
			}
			if j.Code != tt.code || j.TriggeredBy != tt.triggeredBy {
				t.Fatalf("reject %s by %q (%s), want %s by %q", j.Code, j.TriggeredBy, j.Message, tt.code, tt.triggeredBy)
			}
			if tt.code == ilp.F08AmountTooLarge {
				got, maxAmt, err := ilp.ParseAmountTooLarge(j.Data)
				if err != nil || got != 1001 || maxAmt != 1000 {
					t.Fatalf("F08 data says received %d, maximum %d (%v)", got, maxAmt, err)
				}
			}
		})
	}
	// None of them moved money, and none is left pending.
	for _, c := range []struct {
		l    ledger.Ledger
		peer string
	}{{p.la, "sender"}, {p.la, "b"}, {p.lb, "a"}, {p.lb, "receiver"}} {
		if b := balance(t, c.l, c.peer); b != (ledger.Balance{CreditLimit: b.CreditLimit}) {
			t.Errorf("peer %s: balance %+v after rejects only", c.peer, b)
		}
	}
}

func TestCreditLimitGivesT04(t *testing.T) {
	p := newPair(t)
	// The sender may owe 10,000; ten fulfilled packets of 1,000 use it up.
	for range 10 {
		if resp, _ := p.send(t, 1000, "test.b.receiver.x", 10*time.Second); resp[0] != byte(ilp.TypeFulfill) {
			j, _ := ilp.DecodeReject(resp)
			t.Fatalf("packet within the limit rejected: %+v", j)
		}
	}
	resp, _ := p.send(t, 1, "test.b.receiver.x", 10*time.Second)
	if j, err := ilp.DecodeReject(resp); err != nil || j.Code != ilp.T04InsufficientLiquidity {
		t.Fatalf("answer %+v (%v), want T04", j, err)
	}
}

func TestWrongTokenIsRefusedAtAuth(t *testing.T) {
	p := newPair(t)
	_, err := btp.Dial(t.Context(), btp.DialConfig{URL: p.urlA, Token: "tok-guess", PeerID: "a"})
	if !errors.Is(err, btp.ErrAuthRejected) {
		t.Fatalf("err = %v, want ErrAuthRejected", err)
	}
}

func TestChildLearnsItsAddressByILDCP(t *testing.T) {
	p := newPair(t)
	raw, _ := (&ilp.Prepare{ExpiresAt: time.Now().Add(time.Minute), ExecutionCondition: routing.PeerProtocolCondition, Destination: routing.ILDCPDestination}).MarshalBinary()
	resp, err := p.sender.SendPrepare(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ilp.DecodeFulfill(resp)
	if err != nil {
		t.Fatalf("ILDCP answer is not a fulfill: %v", err)
	}
	info, err := routing.DecodeILDCP(f.Data)
	if err != nil || info != (routing.ILDCPInfo{Address: "test.a.sender", AssetScale: 9, AssetCode: "XRP"}) {
		t.Fatalf("ILDCP info %+v, %v", info, err)
	}
}

func TestRouteBroadcastIsAnsweredLocally(t *testing.T) {
	p := newPair(t)
	raw, _ := (&ilp.Prepare{ExpiresAt: time.Now().Add(time.Minute), ExecutionCondition: routing.PeerProtocolCondition, Destination: "peer.route.update"}).MarshalBinary()
	resp, err := p.sender.SendPrepare(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ilp.DecodeFulfill(resp); err != nil {
		t.Fatalf("peer.route.update not answered by A: %v", err)
	}
	if b := balance(t, p.la, "b"); b.CreditsPending+b.CreditsPosted != 0 {
		t.Fatal("a peer protocol packet was booked")
	}
}

func TestDiscoveredPeerCanBeAddedAndRemoved(t *testing.T) {
	p := newPair(t)
	c, urlC := startNode(t, Config{Address: "test.c", Peers: []routing.Peer{
		{ID: "a", AuthToken: "tok-ac", ILPPrefix: "test.a", Relation: routing.RelationPeer, CreditLimit: 1e9}}}, ledger.NewMemory())
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachLocal(t.Context(), routing.Peer{ID: "self", ILPPrefix: "test.c", Relation: routing.RelationChild}, receiver); err != nil {
		t.Fatal(err)
	}
	if err := p.a.AddPeer(t.Context(), routing.Peer{ID: "c", AuthToken: "tok-ac", ILPPrefix: "test.c", BTPURL: urlC, Relation: routing.RelationPeer, CreditLimit: 1e9}); err != nil {
		t.Fatal(err)
	}
	waitConnected(t, p.a, "c")
	if resp, _ := p.send(t, 5, "test.c.shop", 10*time.Second); resp[0] != byte(ilp.TypeFulfill) {
		j, _ := ilp.DecodeReject(resp)
		t.Fatalf("packet to the discovered peer: %+v", j)
	}
	p.a.RemovePeer("c")
	resp, _ := p.send(t, 5, "test.c.shop", 10*time.Second)
	if j, err := ilp.DecodeReject(resp); err != nil || j.Code != ilp.F02Unreachable {
		t.Fatalf("after RemovePeer: %+v, %v; want F02", j, err)
	}
}

func TestCloseFinishesPacketsInFlight(t *testing.T) {
	p := newPair(t)
	got := make(chan []byte, 1)
	go func() { resp, _ := p.send(t, 1, "test.b.receiver.slow", 10*time.Second); got <- resp }()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case resp := <-got:
		if j, err := ilp.DecodeReject(resp); err != nil || j.Code != ilp.R00TransferTimedOut {
			t.Fatalf("in-flight packet answered %+v (%v), want B's R00", j, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the packet in flight was never answered")
	}
	if _, err := btp.Dial(t.Context(), btp.DialConfig{URL: p.urlB, Token: "tok-ab", PeerID: "b"}); err == nil {
		t.Fatal("a closed node accepted a connection")
	}
}
