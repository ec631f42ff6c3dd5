package node

import (
	"context"
	"fmt"
	"sync"

	"github.com/m2mnet/m2m/connector/ledger"
)

// standinLedger stands in for TigerBeetle in the benchmark only: two-phase transfers and credit limits, no
// expiry. It exists because ledger.Memory scans every transfer it ever saw on each call (expireLocked), which
// makes a benchmark measure the ledger instead of the connector; the benchmark reports both.
type standinLedger struct {
	mu       sync.Mutex
	accounts map[string]*ledger.Balance
	pending  map[ledger.TransferID]ledger.Transfer
}

func newStandinLedger() *standinLedger {
	return &standinLedger{accounts: map[string]*ledger.Balance{}, pending: map[ledger.TransferID]ledger.Transfer{}}
}

func (l *standinLedger) EnsureAccount(_ context.Context, peer string, limit uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.accounts[peer] == nil {
		l.accounts[peer] = &ledger.Balance{CreditLimit: limit}
	}
	return nil
}

func (l *standinLedger) Prepare(_ context.Context, t ledger.Transfer) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	dr, cr := l.accounts[t.Debit], l.accounts[t.Credit]
	if dr == nil || cr == nil {
		return fmt.Errorf("prepare: %w", ledger.ErrUnknownAccount)
	}
	if dr.DebitsPending+dr.DebitsPosted+t.Amount > dr.CreditsPosted+dr.CreditLimit {
		return ledger.ErrInsufficientLiquidity
	}
	dr.DebitsPending += t.Amount
	cr.CreditsPending += t.Amount
	l.pending[t.ID] = t
	return nil
}

func (l *standinLedger) finish(id ledger.TransferID, post bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.pending[id]
	if !ok {
		return ledger.ErrUnknownTransfer
	}
	delete(l.pending, id)
	dr, cr := l.accounts[t.Debit], l.accounts[t.Credit]
	dr.DebitsPending -= t.Amount
	cr.CreditsPending -= t.Amount
	if post {
		dr.DebitsPosted += t.Amount
		cr.CreditsPosted += t.Amount
	}
	return nil
}

func (l *standinLedger) Post(_ context.Context, id ledger.TransferID) error {
	return l.finish(id, true)
}
func (l *standinLedger) Void(_ context.Context, id ledger.TransferID) error {
	return l.finish(id, false)
}

func (l *standinLedger) Balance(_ context.Context, peer string) (ledger.Balance, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.accounts[peer]; b != nil {
		return *b, nil
	}
	return ledger.Balance{}, ledger.ErrUnknownAccount
}

func (l *standinLedger) Ping(ctx context.Context) error { return ctx.Err() }
func (l *standinLedger) Close() error                   { return nil }
