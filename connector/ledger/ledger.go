// Package ledger keeps the connector's balances with its peers: an account per peer and a two-phase transfer
// per forwarded ILP packet (pending on Prepare, posted on Fulfill, voided on Reject or expiry).
package ledger

import (
	"context"
	"errors"
	"time"
)

// ErrInsufficientLiquidity is returned by Prepare when the debited peer would go past its credit limit.
// The pipeline answers it with ILP error T04.
var ErrInsufficientLiquidity = errors.New("ledger: insufficient liquidity")

// ErrUnknownAccount is returned when a transfer names a peer that has no account.
var ErrUnknownAccount = errors.New("ledger: unknown account")

// ErrUnknownTransfer is returned by Post and Void for an id that has no pending transfer.
var ErrUnknownTransfer = errors.New("ledger: unknown transfer")

// ErrTransferFinished is returned by Post and Void when the pending transfer was already posted, voided or expired.
var ErrTransferFinished = errors.New("ledger: transfer already finished")

// ErrTransferFailed is returned by Prepare for an id whose first Prepare was refused (insufficient liquidity,
// unknown account). As in TigerBeetle, a refused id is spent: retry with a new id.
var ErrTransferFailed = errors.New("ledger: transfer id already refused once; retry with a new id")

// ErrTransferConflict is returned by Prepare when the id was already used for a transfer with other fields
// (accounts, amount or timeout): an id names one transfer, so this is a bug in the caller, not a retry.
var ErrTransferConflict = errors.New("ledger: transfer id already used with different fields")

// TransferID identifies a transfer; the same id given twice means the same transfer (idempotent retries).
type TransferID [16]byte

// Transfer moves Amount from the account of peer Debit to the account of peer Credit.
type Transfer struct {
	ID     TransferID
	Debit  string // peer id whose account is debited (the peer the packet came from)
	Credit string // peer id whose account is credited (the next hop)
	Amount uint64
	// Timeout after which a pending transfer is voided by the ledger itself (rounded up to whole seconds).
	Timeout time.Duration
}

// Balance is what a peer's account holds, in the smallest unit of the connector's asset.
type Balance struct {
	DebitsPending  uint64
	DebitsPosted   uint64
	CreditsPending uint64
	CreditsPosted  uint64
	CreditLimit    uint64
}

// Net is credits posted minus debits posted: positive when the connector owes the peer.
func (b Balance) Net() int64 { return int64(b.CreditsPosted) - int64(b.DebitsPosted) }

// Ledger is what the packet pipeline needs from a ledger. Every method waits at most until ctx is done.
type Ledger interface {
	// EnsureAccount creates the peer's account if it does not exist; an existing account is success.
	// creditLimit bounds how far the peer's debits (pending + posted) may exceed its credits.
	EnsureAccount(ctx context.Context, peer string, creditLimit uint64) error
	// Prepare records a pending transfer. Re-preparing the same id with the same fields is success.
	Prepare(ctx context.Context, t Transfer) error
	// Post completes a pending transfer for its full amount (ILP Fulfill).
	Post(ctx context.Context, id TransferID) error
	// Void cancels a pending transfer (ILP Reject or expiry).
	Void(ctx context.Context, id TransferID) error
	// Balance reports a peer's account.
	Balance(ctx context.Context, peer string) (Balance, error)
	// Ping makes a real round trip to the ledger's store; readiness depends on it.
	Ping(ctx context.Context) error
	Close() error
}
