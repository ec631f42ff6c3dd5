package ledger_test

import (
	"bytes"
	"context"
	"log/slog"
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
	id := newID(t)
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
	early, late := newID(t), newID(t)
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
