// Package ledger keeps the connector's balances with its peers: an account per peer and a two-phase transfer
// per forwarded ILP packet (pending on Prepare, posted on Fulfill, voided on Reject or expiry).
package ledger

import (
	"context"
	"errors"
	"fmt"
	"math"
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

// ErrAmountOverflow is returned when a transfer would take an account's totals past what they can hold, and by
// Balance when they are past what a Balance can report. Nothing wraps around: the pipeline refuses the packet.
var ErrAmountOverflow = errors.New("ledger: amount would overflow the account's totals")

// ErrReservedIDBits is returned by Prepare for an id with its two lowest bits set: they are kept for the ids of
// the transfer's post and void. Ids from NewTransferID never have them set.
var ErrReservedIDBits = errors.New("ledger: transfer id has its two lowest bits set, which are reserved for its post and void; make ids with NewTransferID")

// TransferID identifies a transfer; the same id given twice means the same transfer (idempotent retries).
// NewTransferID makes them; see ids.go for the layout.
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

// Net is credits posted minus debits posted: positive when the connector owes the peer. A difference beyond
// what an int64 holds is ErrAmountOverflow, not a wrapped number.
func (b Balance) Net() (int64, error) {
	if b.CreditsPosted >= b.DebitsPosted {
		if d := b.CreditsPosted - b.DebitsPosted; d <= math.MaxInt64 {
			return int64(d), nil
		}
	} else if d := b.DebitsPosted - b.CreditsPosted; d <= 1<<63 {
		return int64(-d), nil // two's complement: int64(-d) is −d for every d up to 2^63
	}
	return 0, fmt.Errorf("net of credits %d and debits %d: %w", b.CreditsPosted, b.DebitsPosted, ErrAmountOverflow)
}

// Ledger is what the packet pipeline needs from a ledger. Every method waits at most until ctx is done.
type Ledger interface {
	// NewTransferID returns a fresh transfer id. Ids from one ledger strictly increase (TigerBeetle stores
	// increasing ids much faster than random ones) and leave room for the ids of their post and void.
	NewTransferID() TransferID
	// EnsureAccount creates the peer's account if it does not exist; an existing account is success.
	// creditLimit bounds how far the peer's debits (pending + posted) may exceed its credits.
	EnsureAccount(ctx context.Context, peer string, creditLimit uint64) error
	// Prepare records a pending transfer. Re-preparing the same id with the same fields is success.
	Prepare(ctx context.Context, t Transfer) error
	// Post completes a pending transfer for its full amount (ILP Fulfill). Posting it again is success, so a
	// Post whose outcome is unknown (Retryable) is repeated with the same id: see RetryPost.
	Post(ctx context.Context, id TransferID) error
	// Void cancels a pending transfer (ILP Reject or expiry). Voiding it again is success: see RetryVoid.
	Void(ctx context.Context, id TransferID) error
	// Balance reports a peer's account.
	Balance(ctx context.Context, peer string) (Balance, error)
	// Ping makes a real round trip to the ledger's store; readiness depends on it.
	Ping(ctx context.Context) error
	Close() error
}
