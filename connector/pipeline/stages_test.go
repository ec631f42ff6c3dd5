package pipeline

import (
	"context"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/ilp"
	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/metrics"
	"github.com/m2mnet/m2m/connector/routing"
)

// A packet whose amount would take an account's totals past what the ledger holds is refused with T00, and
// nothing is booked: a wrapped balance would be a wrong one.
func TestAmountThatWouldOverflowTheLedgerGivesT00(t *testing.T) {
	l := ledger.NewMemory()
	routes := routing.NewTable("test.conn")
	for _, p := range []routing.Peer{
		{ID: "in", AuthToken: "1", Relation: routing.RelationChild, CreditLimit: math.MaxUint64},
		{ID: "out", AuthToken: "2", Relation: routing.RelationPeer, ILPPrefix: "test.out"},
	} {
		if err := routes.Add(p); err != nil {
			t.Fatal(err)
		}
		if err := l.EnsureAccount(t.Context(), p.ID, p.CreditLimit); err != nil {
			t.Fatal(err)
		}
	}
	ctx := t.Context()
	if err := l.Prepare(ctx, ledger.Transfer{ID: l.NewTransferID(), Debit: "in", Credit: "out", Amount: math.MaxUint64 - 5, Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	forwarded := false
	p := New(Config{Address: "test.conn"}, routes, l, standinHop(func(ctx context.Context, prepare []byte) ([]byte, error) {
		forwarded = true
		return fulfilling(ctx, prepare)
	}), metrics.New("t", "t", "go"), slog.New(slog.DiscardHandler))
	raw, err := (&ilp.Prepare{Amount: 6, ExpiresAt: time.Now().Add(10 * time.Second), ExecutionCondition: condition,
		Destination: "test.out.x"}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if got := code(t, p.HandlePrepare(ctx, "in", raw)); got != ilp.T00InternalError {
		t.Fatalf("code %q, want T00 for an amount that would overflow the ledger's totals", got)
	}
	if forwarded {
		t.Fatal("a packet the ledger could not book was forwarded")
	}
	in, err := l.Balance(ctx, "in")
	if err != nil || in.DebitsPending != math.MaxUint64-5 {
		t.Fatalf("balance of in = %+v, %v; want only the first hold", in, err)
	}
}

// Transfer ids come from the ledger, in increasing order, one per booked packet.
func TestBookedPacketsGetIncreasingTransferIDsFromTheLedger(t *testing.T) {
	var ids []ledger.TransferID
	f := newFixture(t, Config{}, fulfilling)
	for range 3 {
		pk := packet{from: "in", received: f.now, hop: routing.Peer{ID: "out"}, prepare: ilp.Prepare{Amount: 1, ExpiresAt: f.now.Add(10 * time.Second)}}
		if j := f.p.holdBalance(t.Context(), &pk); j != nil {
			t.Fatalf("hold refused: %s %s", j.Code, j.Message)
		}
		ids = append(ids, pk.transfer.ID)
	}
	for i := 1; i < len(ids); i++ {
		if !idLess(ids[i-1], ids[i]) {
			t.Fatalf("transfer id %x after %x: not increasing", ids[i], ids[i-1])
		}
	}
}

func idLess(a, b ledger.TransferID) bool {
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}
