package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/metrics"
)

func TestMemoryContract(t *testing.T) {
	testContract(t, func(t *testing.T) ledger.Ledger { return ledger.NewMemory() })
}

func TestMemoryExpiresPendingTransfersByItsClock(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	l := ledger.NewMemory(ledger.WithClock(clock))
	ctx := context.Background()
	a, b := accounts(t, ctx, l, 10, 0)
	id := l.NewTransferID()
	// 1.2 s rounds up to 2 s, as TigerBeetle counts timeouts in whole seconds.
	must(t, l.Prepare(ctx, ledger.Transfer{ID: id, Debit: a, Credit: b, Amount: 10, Timeout: 1200 * time.Millisecond}))
	advance(1900 * time.Millisecond)
	wantBalance(t, ctx, l, a, ledger.Balance{DebitsPending: 10, CreditLimit: 10})
	advance(100 * time.Millisecond)
	wantBalance(t, ctx, l, a, ledger.Balance{CreditLimit: 10})
	wantErr(t, l.Void(ctx, id), ledger.ErrTransferFinished)
}

// The expiry scan is skipped until the earliest expiry; a transfer that finished early must not hide a later one.
func TestMemoryExpiresTheLaterTransferAfterTheEarlierOneWasPosted(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	l := ledger.NewMemory(ledger.WithClock(clock))
	ctx := context.Background()
	a, b := accounts(t, ctx, l, 100, 0)
	early, late := l.NewTransferID(), l.NewTransferID()
	must(t, l.Prepare(ctx, ledger.Transfer{ID: early, Debit: a, Credit: b, Amount: 10, Timeout: 2 * time.Second}))
	must(t, l.Prepare(ctx, ledger.Transfer{ID: late, Debit: a, Credit: b, Amount: 20, Timeout: 5 * time.Second}))
	must(t, l.Post(ctx, early))
	advance(3 * time.Second) // past the posted one's expiry: the later one is still pending
	wantBalance(t, ctx, l, a, ledger.Balance{DebitsPending: 20, DebitsPosted: 10, CreditLimit: 100})
	advance(2 * time.Second) // past the later one's
	wantBalance(t, ctx, l, a, ledger.Balance{DebitsPosted: 10, CreditLimit: 100})
	wantErr(t, l.Post(ctx, late), ledger.ErrTransferFinished)
}

func TestMemoryWarnsLoudlyWhenAsked(t *testing.T) {
	var buf bytes.Buffer
	ledger.NewMemory(ledger.WithWarning(slog.New(slog.NewJSONHandler(&buf, nil))))
	if out := buf.String(); !strings.Contains(out, `"level":"WARN"`) || !strings.Contains(out, "LOST on restart") {
		t.Fatalf("warning log = %q; want a WARN saying balances are lost on restart", out)
	}
}

func TestLedgerOperationsAreTimed(t *testing.T) {
	m := metrics.New("test", "test", "go")
	l := ledger.NewMemory(ledger.WithMetrics(m))
	ctx := context.Background()
	must(t, l.Ping(ctx))
	_, err := l.Balance(ctx, "nobody")
	wantErr(t, err, ledger.ErrUnknownAccount)
	if n := histogramCount(t, m, "ping", "ok"); n != 1 {
		t.Errorf("ping/ok observations = %d, want 1", n)
	}
	if n := histogramCount(t, m, "balance", "error"); n != 1 {
		t.Errorf("balance/error observations = %d, want 1", n)
	}
}

// histogramCount reads m2m_ledger_operation_duration_seconds{operation,outcome} from the registry, as a scrape would.
func histogramCount(t *testing.T, m *metrics.Metrics, op, outcome string) uint64 {
	t.Helper()
	families, err := m.Registry.Gather()
	must(t, err)
	for _, f := range families {
		if f.GetName() != "m2m_ledger_operation_duration_seconds" {
			continue
		}
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["operation"] == op && labels["outcome"] == outcome {
				return s.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

// Memory keeps 64-bit totals: a transfer that would take them past 2^64-1 is refused, never wrapped (TigerBeetle
// refuses the same at 128 bits: overflows_debits, overflows_credits).
func TestMemoryRefusesAnAmountThatWouldOverflowTheTotals(t *testing.T) {
	l := ledger.NewMemory()
	ctx := context.Background()
	a, b := accounts(t, ctx, l, math.MaxUint64, 0)
	must(t, l.Prepare(ctx, ledger.Transfer{ID: l.NewTransferID(), Debit: a, Credit: b, Amount: math.MaxUint64 - 10, Timeout: time.Minute}))
	wantErr(t, l.Prepare(ctx, ledger.Transfer{ID: l.NewTransferID(), Debit: a, Credit: b, Amount: 11, Timeout: time.Minute}), ledger.ErrAmountOverflow)
	must(t, l.Prepare(ctx, ledger.Transfer{ID: l.NewTransferID(), Debit: a, Credit: b, Amount: 10, Timeout: time.Minute}))
	wantBalance(t, ctx, l, b, ledger.Balance{CreditsPending: math.MaxUint64})
}

func TestBalanceNetRefusesWhatAnInt64CannotHold(t *testing.T) {
	tests := []struct {
		b       ledger.Balance
		want    int64
		wantErr bool
	}{
		{ledger.Balance{CreditsPosted: 10, DebitsPosted: 3}, 7, false},
		{ledger.Balance{CreditsPosted: 3, DebitsPosted: 10}, -7, false},
		{ledger.Balance{CreditsPosted: math.MaxInt64}, math.MaxInt64, false},
		{ledger.Balance{DebitsPosted: 1 << 63}, math.MinInt64, false},
		{ledger.Balance{CreditsPosted: 1 << 63}, 0, true},
		{ledger.Balance{DebitsPosted: 1<<63 + 1}, 0, true},
		{ledger.Balance{CreditsPosted: math.MaxUint64}, 0, true},
	}
	for _, tc := range tests {
		got, err := tc.b.Net()
		if tc.wantErr {
			if !errors.Is(err, ledger.ErrAmountOverflow) {
				t.Errorf("%+v.Net() = %d, %v; want ErrAmountOverflow", tc.b, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v.Net() = %d, %v; want %d", tc.b, got, err, tc.want)
		}
	}
}

func TestMemoryTransferIDsIncreaseWhenTheClockStepsBack(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l := ledger.NewMemory(ledger.WithClock(clock))
	prev := l.NewTransferID()
	for _, step := range []time.Duration{0, time.Millisecond, -time.Hour, 0, 2 * time.Hour} {
		mu.Lock()
		now = now.Add(step)
		mu.Unlock()
		id := l.NewTransferID()
		if !less(prev, id) {
			t.Fatalf("after a clock step of %s, id %x is not greater than %x", step, id, prev)
		}
		prev = id
	}
}
