package tracing

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/m2mnet/m2m/connector/ilp"
	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/metrics"
	"github.com/m2mnet/m2m/connector/pipeline"
	"github.com/m2mnet/m2m/connector/routing"
)

// standinHop stands in for the next connector across a BTP link: it fulfills, or rejects ".poor" with T04.
type standinHop struct{ traced atomic.Int32 }

func (h *standinHop) SendPrepare(ctx context.Context, _ string, raw []byte) ([]byte, error) {
	if oteltrace.SpanFromContext(ctx).SpanContext().IsValid() {
		h.traced.Add(1)
	}
	p, _ := ilp.DecodePrepare(raw)
	if strings.HasSuffix(p.Destination, ".poor") {
		return (&ilp.Reject{Code: ilp.T04InsufficientLiquidity, TriggeredBy: "test.out"}).MarshalBinary()
	}
	return (&ilp.Fulfill{Fulfillment: [32]byte{7}}).MarshalBinary()
}

func TestPipelineExportsASpanPerForwardedPacketWithItsCode(t *testing.T) {
	recv := &receiver{}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	tr := mustSetup(t, srv.URL)

	routes := routing.NewTable("test.conn")
	l := ledger.NewMemory()
	for _, p := range []routing.Peer{
		{ID: "in", AuthToken: "1", Relation: routing.RelationChild, CreditLimit: 1000},
		{ID: "out", AuthToken: "2", Relation: routing.RelationPeer, ILPPrefix: "test.out"},
	} {
		if err := routes.Add(p); err != nil {
			t.Fatal(err)
		}
		if err := l.EnsureAccount(t.Context(), p.ID, p.CreditLimit); err != nil {
			t.Fatal(err)
		}
	}
	hop := &standinHop{}
	p := pipeline.New(pipeline.Config{Address: "test.conn", Tracer: tr}, routes, l, hop, metrics.New("t", "t", "go"), slog.New(slog.DiscardHandler))
	fulfillment := [32]byte{7}
	cond := sha256.Sum256(fulfillment[:])
	for _, dest := range []string{"test.out.shop", "test.out.poor", "test.nowhere.x"} {
		raw, _ := (&ilp.Prepare{Amount: 5, ExpiresAt: time.Now().Add(10 * time.Second), ExecutionCondition: cond, Destination: dest}).MarshalBinary()
		p.HandlePrepare(t.Context(), "in", raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	if n := hop.traced.Load(); n != 2 {
		t.Errorf("%d of 2 forwarded packets reached the next hop with the span in their context", n)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	got := map[string]string{} // destination prefix → result/code
	for _, s := range recv.spans {
		a := attrs(s.GetAttributes())
		if a[string(AttrPeer)] != "in" {
			t.Errorf("span peer %q, want the sending peer in", a[string(AttrPeer)])
		}
		got[a[string(AttrDestinationPrefix)]] = a[string(AttrResult)] + "/" + a[string(AttrCode)]
	}
	want := map[string]string{"test.out.shop": "fulfilled/", "test.out.poor": "rejected/T04"}
	if len(recv.spans) != len(want) || got["test.out.shop"] != want["test.out.shop"] || got["test.out.poor"] != want["test.out.poor"] {
		t.Fatalf("spans %v, want %v and none for the unroutable packet", got, want)
	}
}
