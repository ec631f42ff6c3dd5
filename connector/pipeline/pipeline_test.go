package pipeline

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/ilp"
	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/metrics"
	"github.com/m2mnet/m2m/connector/routing"
)

var (
	preimage  = [32]byte{42}
	condition = sha256.Sum256(preimage[:])
)

// standinHop stands in for the next connector on the other side of a BTP link.
type standinHop func(ctx context.Context, prepare []byte) ([]byte, error)

func (h standinHop) SendPrepare(ctx context.Context, _ string, prepare []byte) ([]byte, error) {
	return h(ctx, prepare)
}

func fulfilling(ctx context.Context, _ []byte) ([]byte, error) {
	return (&ilp.Fulfill{Fulfillment: preimage}).MarshalBinary()
}

type fixture struct {
	p       *Pipeline
	l       *ledger.Memory
	m       *metrics.Metrics
	now     time.Time
	forward []byte
}

func newFixture(t *testing.T, cfg Config, hop standinHop) *fixture {
	t.Helper()
	f := &fixture{l: ledger.NewMemory(), m: metrics.New("t", "t", "go"), now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	routes := routing.NewTable("test.conn")
	for _, p := range []routing.Peer{
		{ID: "in", AuthToken: "1", Relation: routing.RelationChild, CreditLimit: 1000},
		{ID: "out", AuthToken: "2", Relation: routing.RelationPeer, ILPPrefix: "test.out"},
	} {
		if err := routes.Add(p); err != nil {
			t.Fatal(err)
		}
		if err := f.l.EnsureAccount(t.Context(), p.ID, p.CreditLimit); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Address = "test.conn"
	record := standinHop(func(ctx context.Context, prepare []byte) ([]byte, error) {
		f.forward = append([]byte(nil), prepare...)
		return hop(ctx, prepare)
	})
	f.p = New(cfg, routes, f.l, record, f.m, slog.New(slog.DiscardHandler))
	f.p.now = func() time.Time { return f.now }
	return f
}

func (f *fixture) send(t *testing.T, amount uint64, expiresIn time.Duration) []byte {
	t.Helper()
	raw, err := (&ilp.Prepare{Amount: amount, ExpiresAt: f.now.Add(expiresIn), ExecutionCondition: condition, Destination: "test.out.x", Data: []byte("d")}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return f.p.HandlePrepare(t.Context(), "in", raw)
}

func code(t *testing.T, resp []byte) ilp.Code {
	t.Helper()
	if resp[0] == byte(ilp.TypeFulfill) {
		return ""
	}
	j, err := ilp.DecodeReject(resp)
	if err != nil {
		t.Fatal(err)
	}
	return j.Code
}

func TestReduceExpiry(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn time.Duration
		wantOut   time.Duration // 0 when rejected
		wantCode  ilp.Code
	}{
		{"one second less", 10 * time.Second, 9 * time.Second, ""},
		{"capped at thirty seconds", time.Minute, 30 * time.Second, ""},
		{"exactly one second left for the next hop", 2 * time.Second, time.Second, ""},
		{"less than one second left", 1999 * time.Millisecond, 0, ilp.R02InsufficientTimeout},
		{"already expired", -time.Millisecond, 0, ilp.R00TransferTimedOut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{}, fulfilling)
			if got := code(t, f.send(t, 1, tt.expiresIn)); got != tt.wantCode {
				t.Fatalf("code %q, want %q", got, tt.wantCode)
			}
			if tt.wantCode != "" {
				if f.forward != nil {
					t.Fatal("a rejected packet was forwarded")
				}
				return
			}
			out, err := ilp.DecodePrepare(f.forward)
			if err != nil {
				t.Fatal(err)
			}
			if want := f.now.Add(tt.wantOut); !out.ExpiresAt.Equal(want) {
				t.Fatalf("forwarded expiry %s, want %s", out.ExpiresAt, want)
			}
			if out.ExecutionCondition != condition || string(out.Data) != "d" || out.Amount != 1 || out.Destination != "test.out.x" {
				t.Fatalf("forwarded packet changed beyond its expiry: %+v", out)
			}
		})
	}
}

func TestNextHopFailuresMapToCodes(t *testing.T) {
	tests := []struct {
		name string
		hop  standinHop
		want ilp.Code
	}{
		{"busy", func(context.Context, []byte) ([]byte, error) { return nil, btp.ErrBusy }, ilp.T02PeerBusy},
		{"link down", func(context.Context, []byte) ([]byte, error) { return nil, btp.ErrClosed }, ilp.T01PeerUnreachable},
		{"no answer before expiry", func(ctx context.Context, _ []byte) ([]byte, error) { <-ctx.Done(); return nil, ctx.Err() }, ilp.R00TransferTimedOut},
		{"garbage answer", func(context.Context, []byte) ([]byte, error) { return []byte{13, 1}, nil }, ilp.T00InternalError},
		{"wrong fulfillment", func(context.Context, []byte) ([]byte, error) {
			return (&ilp.Fulfill{Fulfillment: [32]byte{1}}).MarshalBinary()
		}, ilp.F05WrongCondition},
		{"next hop's reject is relayed", func(context.Context, []byte) ([]byte, error) {
			return (&ilp.Reject{Code: "F99", TriggeredBy: "test.out.x", Message: "app"}).MarshalBinary()
		}, "F99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{}, tt.hop)
			f.now = time.Now() // the R00 case waits on a real deadline
			if got := code(t, f.send(t, 7, 2500*time.Millisecond)); got != tt.want {
				t.Fatalf("code %q, want %q", got, tt.want)
			}
			b, err := f.l.Balance(t.Context(), "in")
			if err != nil {
				t.Fatal(err)
			}
			if b.DebitsPending != 0 || b.DebitsPosted != 0 {
				t.Fatalf("a rejected packet left the sender's balance at %+v; want it voided", b)
			}
			if got := packets(t, f.m, metrics.ResultRejected, string(tt.want)); got != 1 {
				t.Fatalf("m2m_packets_total{result=rejected,code=%s} = %g, want 1", tt.want, got)
			}
		})
	}
}

func TestFulfilledPacketIsPostedAndCounted(t *testing.T) {
	f := newFixture(t, Config{}, fulfilling)
	if got := code(t, f.send(t, 300, 10*time.Second)); got != "" {
		t.Fatalf("rejected with %s", got)
	}
	in, _ := f.l.Balance(t.Context(), "in")
	out, _ := f.l.Balance(t.Context(), "out")
	if in.DebitsPosted != 300 || out.CreditsPosted != 300 || in.DebitsPending != 0 {
		t.Fatalf("balances in %+v out %+v", in, out)
	}
	if got := packets(t, f.m, metrics.ResultFulfilled, ""); got != 1 {
		t.Fatalf("fulfilled count %g", got)
	}
	var h dto.Metric
	if err := f.m.PacketDuration.WithLabelValues(metrics.ResultFulfilled).(interface{ Write(*dto.Metric) error }).Write(&h); err != nil || h.GetHistogram().GetSampleCount() != 1 {
		t.Fatalf("fulfilled duration samples %d (%v), want 1", h.GetHistogram().GetSampleCount(), err)
	}
}

func TestCreditLimitGivesT04(t *testing.T) {
	f := newFixture(t, Config{}, func(ctx context.Context, _ []byte) ([]byte, error) {
		return (&ilp.Reject{Code: "F99"}).MarshalBinary() // keep the hold pending-free but never posted
	})
	if got := code(t, f.send(t, 1001, 10*time.Second)); got != ilp.T04InsufficientLiquidity {
		t.Fatalf("code %q, want T04 (credit limit 1000)", got)
	}
	if f.forward != nil {
		t.Fatal("a packet over the credit limit was forwarded")
	}
}

func TestRateLimitGivesT05(t *testing.T) {
	f := newFixture(t, Config{RatePerPeer: 5, RateBurst: 5}, fulfilling)
	for i := range 5 {
		if got := code(t, f.send(t, 1, 10*time.Second)); got != "" {
			t.Fatalf("packet %d within the burst: %s", i, got)
		}
	}
	if got := code(t, f.send(t, 1, 10*time.Second)); got != ilp.T05RateLimited {
		t.Fatalf("sixth packet: %q, want T05", got)
	}
	f.now = f.now.Add(time.Second) // a second later five more tokens
	if got := code(t, f.send(t, 1, 10*time.Second)); got != "" {
		t.Fatalf("after refill: %s", got)
	}
}

func TestPeerPacketsAreNeverForwarded(t *testing.T) {
	f := newFixture(t, Config{}, func(context.Context, []byte) ([]byte, error) {
		return nil, errors.New("must not be called")
	})
	for dest, want := range map[string]ilp.Code{"peer.config": "", "peer.route.control": "", "peer.settle": ilp.F02Unreachable} {
		raw, _ := (&ilp.Prepare{ExpiresAt: f.now.Add(time.Minute), ExecutionCondition: routing.PeerProtocolCondition, Destination: dest}).MarshalBinary()
		if got := code(t, f.p.HandlePrepare(t.Context(), "in", raw)); got != want {
			t.Errorf("%s: code %q, want %q", dest, got, want)
		}
	}
	if f.forward != nil {
		t.Fatal("a peer.* packet was forwarded")
	}
}

func packets(t *testing.T, m *metrics.Metrics, result, code string) float64 {
	t.Helper()
	var c dto.Metric
	if err := m.Packets.WithLabelValues(result, code).Write(&c); err != nil {
		t.Fatal(err)
	}
	return c.GetCounter().GetValue()
}
