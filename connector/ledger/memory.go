package ledger

import (
	"context"
	"fmt"
	"log/slog"
	"math/bits"
	"sync"
	"time"

	"github.com/m2mnet/m2m/connector/metrics"
)

// Memory is a Ledger kept in this process's memory, with TigerBeetle's semantics: idempotent ids, pending
// transfers that expire after their timeout, and a credit limit checked against posted credits. Everything is
// lost when the process exits: it is for tests and for LEDGER=memory in development.
type Memory struct {
	ids     idSource
	now     func() time.Time
	metrics *metrics.Metrics

	mu        sync.Mutex
	accounts  map[string]*memAccount
	byIndex   []*memAccount // accounts by memAccount.index, which records name instead of a peer's string
	transfers memRecords
	pending   map[uint32]time.Time // records still pending that expire, by index → expiry; expiry looks at them
	// nextExpiry is no later than the earliest expiry in pending (zero: none expires), so that the expiry scan
	// runs only when something may have expired rather than on every call, which the packet path makes 3 times.
	nextExpiry time.Time
}

type memAccount struct {
	index                                                      uint32
	limit                                                      uint64
	debitsPending, debitsPosted, creditsPending, creditsPosted uint64
}

type transferState uint8

const (
	statePending transferState = iota
	statePosted
	stateVoided
	stateExpired
	stateRefused // the Prepare was refused: the id is spent, as in TigerBeetle
)

// MemoryOption configures NewMemory.
type MemoryOption func(*Memory)

// WithClock makes the ledger read the time from now, so that tests can expire pending transfers.
func WithClock(now func() time.Time) MemoryOption { return func(m *Memory) { m.now = now } }

// WithMetrics records every operation in m2m_ledger_operation_duration_seconds.
func WithMetrics(m *metrics.Metrics) MemoryOption { return func(l *Memory) { l.metrics = m } }

// WithWarning logs, once and at warning level, that balances will be lost on restart; serve passes it for
// LEDGER=memory so that nobody runs a production node on it unawares.
func WithWarning(log *slog.Logger) MemoryOption {
	return func(*Memory) {
		log.Warn("LEDGER=memory: balances are kept in this process only and are LOST on restart; " +
			"development only, set LEDGER=tigerbeetle for a real node")
	}
}

// NewMemory returns an empty in-memory ledger.
func NewMemory(opts ...MemoryOption) *Memory {
	m := &Memory{now: time.Now, accounts: map[string]*memAccount{}, pending: map[uint32]time.Time{}}
	for _, o := range opts {
		o(m)
	}
	return m
}

// NewTransferID returns a time-ordered id, greater than every id this ledger returned before.
func (m *Memory) NewTransferID() TransferID { return m.ids.next(m.now()) }

// EnsureAccount creates the peer's account with creditLimit; an existing account keeps its first limit.
func (m *Memory) EnsureAccount(ctx context.Context, peer string, creditLimit uint64) (err error) {
	defer observe(m.metrics, opEnsureAccount, started(m.metrics), &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if peer == "" {
		return errEmptyPeer
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.accounts[peer]; !ok {
		a := &memAccount{index: uint32(len(m.byIndex)), limit: creditLimit}
		m.accounts[peer] = a
		m.byIndex = append(m.byIndex, a)
	}
	return nil
}

// Prepare records a pending transfer, or reports ErrInsufficientLiquidity when the debited peer would pass its
// credit limit.
func (m *Memory) Prepare(ctx context.Context, t Transfer) (err error) {
	defer observe(m.metrics, opPrepare, started(m.metrics), &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkTransfer(t); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	dr, cr := m.accounts[t.Debit], m.accounts[t.Credit]
	if i, ok := m.transfers.find(t.ID); ok {
		old := m.transfers.at(i)
		switch {
		case old.state == stateRefused:
			return fmt.Errorf("prepare %x: %w", t.ID, ErrTransferFailed)
		case dr == nil || cr == nil || old.debit != dr.index || old.credit != cr.index || old.amount != t.Amount ||
			old.timeoutSeconds != timeoutSeconds(t.Timeout):
			return fmt.Errorf("prepare %x: %w", t.ID, ErrTransferConflict)
		}
		return nil
	}
	if dr == nil {
		m.refuseLocked(t.ID)
		return fmt.Errorf("prepare %x: debit peer %q: %w", t.ID, t.Debit, ErrUnknownAccount)
	}
	if cr == nil {
		m.refuseLocked(t.ID)
		return fmt.Errorf("prepare %x: credit peer %q: %w", t.ID, t.Credit, ErrUnknownAccount)
	}
	now := m.now()
	m.expireLocked(now)
	// As TigerBeetle refuses overflows_debits and overflows_credits, at the width of a Balance.
	debits, over1 := add64(dr.debitsPending, dr.debitsPosted, t.Amount)
	_, over2 := add64(cr.creditsPending, cr.creditsPosted, t.Amount)
	if over1 || over2 {
		m.refuseLocked(t.ID)
		return fmt.Errorf("prepare %x of %d from peer %q to %q: %w", t.ID, t.Amount, t.Debit, t.Credit, ErrAmountOverflow)
	}
	// TigerBeetle's debits_must_not_exceed_credits counts pending debits but only posted credits.
	if room, over := add64(dr.creditsPosted, dr.limit, 0); !over && debits > room {
		m.refuseLocked(t.ID)
		return fmt.Errorf("prepare %x: peer %q: %w", t.ID, t.Debit, ErrInsufficientLiquidity)
	}
	s := timeoutSeconds(t.Timeout)
	i := m.transfers.add(memRecord{id: t.ID, amount: t.Amount, debit: dr.index, credit: cr.index, timeoutSeconds: s})
	if s > 0 {
		expires := now.Add(time.Duration(s) * time.Second)
		m.pending[i] = expires
		if m.nextExpiry.IsZero() || expires.Before(m.nextExpiry) {
			m.nextExpiry = expires
		}
	}
	dr.debitsPending += t.Amount
	cr.creditsPending += t.Amount
	return nil
}

func (m *Memory) refuseLocked(id TransferID) { m.transfers.add(memRecord{id: id, state: stateRefused}) }

// Post completes a pending transfer for its full amount; posting it again is success.
func (m *Memory) Post(ctx context.Context, id TransferID) (err error) {
	defer observe(m.metrics, opPost, started(m.metrics), &err)
	return m.finish(ctx, "post", id, statePosted)
}

// Void cancels a pending transfer; voiding it again is success.
func (m *Memory) Void(ctx context.Context, id TransferID) (err error) {
	defer observe(m.metrics, opVoid, started(m.metrics), &err)
	return m.finish(ctx, "void", id, stateVoided)
}

func (m *Memory) finish(ctx context.Context, op string, id TransferID, to transferState) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !pendingKind(id) {
		return fmt.Errorf("%s %x: %w (it has the bits of a post or void id set)", op, id, ErrUnknownTransfer)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expireLocked(m.now())
	i, ok := m.transfers.find(id)
	var t *memRecord
	if ok {
		t = m.transfers.at(i)
	}
	switch {
	case !ok || t.state == stateRefused:
		return fmt.Errorf("%s %x: %w", op, id, ErrUnknownTransfer)
	case t.state == to:
		return nil
	case t.state != statePending:
		return fmt.Errorf("%s %x: %w", op, id, ErrTransferFinished)
	}
	dr, cr := m.byIndex[t.debit], m.byIndex[t.credit]
	dr.debitsPending -= t.amount
	cr.creditsPending -= t.amount
	if to == statePosted {
		dr.debitsPosted += t.amount
		cr.creditsPosted += t.amount
	}
	t.state = to
	if t.timeoutSeconds > 0 {
		delete(m.pending, i)
	}
	return nil
}

// Balance reports the peer's account.
func (m *Memory) Balance(ctx context.Context, peer string) (b Balance, err error) {
	defer observe(m.metrics, opBalance, started(m.metrics), &err)
	if err := ctx.Err(); err != nil {
		return Balance{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expireLocked(m.now())
	a, ok := m.accounts[peer]
	if !ok {
		return Balance{}, fmt.Errorf("balance of peer %q: %w", peer, ErrUnknownAccount)
	}
	return Balance{DebitsPending: a.debitsPending, DebitsPosted: a.debitsPosted, CreditsPending: a.creditsPending,
		CreditsPosted: a.creditsPosted, CreditLimit: a.limit}, nil
}

// Ping succeeds while ctx is live: there is no store to reach.
func (m *Memory) Ping(ctx context.Context) (err error) {
	defer observe(m.metrics, opPing, started(m.metrics), &err)
	return ctx.Err()
}

// Close does nothing; the ledger stays usable.
func (m *Memory) Close() error { return nil }

// expireLocked voids pending transfers whose timeout has passed at now, as TigerBeetle does on its own.
func (m *Memory) expireLocked(now time.Time) {
	if m.nextExpiry.IsZero() || now.Before(m.nextExpiry) {
		return
	}
	m.nextExpiry = time.Time{}
	for i, expires := range m.pending {
		if now.Before(expires) {
			if m.nextExpiry.IsZero() || expires.Before(m.nextExpiry) {
				m.nextExpiry = expires
			}
			continue
		}
		t := m.transfers.at(i)
		m.byIndex[t.debit].debitsPending -= t.amount
		m.byIndex[t.credit].creditsPending -= t.amount
		t.state = stateExpired
		delete(m.pending, i)
	}
}

// add64 returns a+b+c and whether the sum passed 2^64-1.
func add64(a, b, c uint64) (uint64, bool) {
	s, c1 := bits.Add64(a, b, 0)
	s, c2 := bits.Add64(s, c, 0)
	return s, c1+c2 != 0
}
