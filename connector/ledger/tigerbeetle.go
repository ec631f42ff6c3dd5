//go:build cgo

package ledger

import (
	"context"
	"fmt"
	"log/slog"
	"math/bits"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	tb "github.com/tigerbeetle/tigerbeetle-go"

	"github.com/m2mnet/m2m/connector/metrics"
)

// How the connector's books look in TigerBeetle:
//
//   - One ledger (tbLedger) for the connector's asset.
//   - A peer's account has flag debits_must_not_exceed_credits, so TigerBeetle itself refuses a transfer that
//     would take the peer's debits (pending + posted) past its posted credits (TransferExceedsCredits →
//     ErrInsufficientLiquidity).
//   - The credit limit is a credit line: a posted transfer of the limit, from the operator account (no balance
//     constraint) to the peer's account, with a deterministic id. The limit is also kept in the account's
//     user_data_64, so Balance can take the line back out of credits_posted with a single lookup.
//   - A forwarded packet is a pending transfer (flag pending, timeout in seconds) from the upstream peer to the
//     next hop; Fulfill posts it (post_pending_transfer, amount AMOUNT_MAX = the full pending amount), Reject
//     voids it. Post and void transfers get ids derived from the pending id, so a retry is answered "exists".
const (
	tbLedger          = 1
	codePeerAccount   = 1
	codeOperator      = 2
	codeILPPacket     = 1
	codeCreditLine    = 2
	defaultTBTimeout  = 5 * time.Second
	defaultTBAddrPort = "3000"
)

// TigerBeetle is a Ledger kept in a TigerBeetle cluster.
type TigerBeetle struct {
	ids     idSource
	conn    *tbConn
	timeout time.Duration
	metrics *metrics.Metrics
}

// NewTigerBeetle checks opts and connects to the cluster. An unreachable or unresolvable cluster is not an error
// here — the connector must start and report it through Ping and /health/ready — but a malformed option is.
func NewTigerBeetle(ctx context.Context, opts Options) (*TigerBeetle, error) {
	id, err := parseClusterID(opts.ClusterID)
	if err != nil {
		return nil, err
	}
	peers, err := parseAddresses(opts.Address)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := opts.CallTimeout
	if timeout <= 0 {
		timeout = defaultTBTimeout
	}
	l := &TigerBeetle{
		conn: &tbConn{clusterID: tb.BigIntToUint128(id), peers: peers, stale: timeout, log: log,
			lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
				return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
			}},
		timeout: timeout,
		metrics: opts.Metrics,
	}
	if !routeNativeLog(log) {
		log.Debug("the TigerBeetle client's own log lines go to stderr (warning(message_bus): …)")
	}
	// Build the first client now, so a bad name shows in the log at start; failure is retried on every call.
	if _, err := l.conn.get(ctx); err != nil {
		log.Warn("tigerbeetle not reachable yet; will retry on every call", "error", err.Error())
	}
	return l, nil
}

// parseAddresses reads Options.Address: host:port items separated by commas.
func parseAddresses(list string) ([]tbPeer, error) {
	var peers []tbPeer
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		host, portText, err := net.SplitHostPort(item)
		if err != nil || host == "" {
			return nil, fmt.Errorf("TigerBeetle address %q is not host:port (such as tigerbeetle:%s); set TIGERBEETLE_ADDRESS", item, defaultTBAddrPort)
		}
		port, err := strconv.ParseUint(portText, 10, 16)
		if err != nil || port == 0 {
			return nil, fmt.Errorf("TigerBeetle address %q has no valid port 1-65535; set TIGERBEETLE_ADDRESS", item)
		}
		peers = append(peers, tbPeer{host: host, port: uint16(port)})
	}
	return peers, nil
}

// NewTransferID returns a time-ordered id, greater than every id this ledger returned before.
func (l *TigerBeetle) NewTransferID() TransferID { return l.ids.next(time.Now()) }

// EnsureAccount creates the operator account, the peer's account and its credit line; what exists is success.
// An existing account keeps the credit limit it was created with.
func (l *TigerBeetle) EnsureAccount(ctx context.Context, peer string, creditLimit uint64) (err error) {
	defer observe(l.metrics, opEnsureAccount, time.Now(), &err)
	if peer == "" {
		return errEmptyPeer
	}
	peerID := tb.BytesToUint128(AccountID(peer))
	accounts := []tb.Account{
		{ID: tb.BytesToUint128(operatorAccountID), Ledger: tbLedger, Code: codeOperator},
		{ID: peerID, Ledger: tbLedger, Code: codePeerAccount, UserData64: creditLimit,
			Flags: tb.AccountFlags{DebitsMustNotExceedCredits: true}.ToUint16()},
	}
	results, err := call(ctx, l.conn, opEnsureAccount, func(c tb.Client) ([]tb.CreateAccountResult, error) {
		return c.CreateAccounts(accounts)
	})
	if err != nil {
		return fmt.Errorf("ensure account of peer %q: %w", peer, err)
	}
	for i, r := range results {
		switch r.Status {
		case tb.AccountCreated, tb.AccountExists, tb.AccountExistsWithDifferentUserData64:
		default:
			return fmt.Errorf("ensure account of peer %q: create account %d: TigerBeetle answered %s", peer, i, r.Status)
		}
	}
	// The line must match the limit the account was created with, which a retry with another limit
	// would not know: read it back.
	found, err := call(ctx, l.conn, opEnsureAccount, func(c tb.Client) ([]tb.Account, error) {
		return c.LookupAccounts([]tb.Uint128{peerID})
	})
	if err != nil {
		return fmt.Errorf("ensure account of peer %q: %w", peer, err)
	}
	if len(found) != 1 {
		return fmt.Errorf("ensure account of peer %q: the account was created but a lookup does not find it", peer)
	}
	limit := found[0].UserData64
	if limit == 0 {
		return nil
	}
	line := []tb.Transfer{{ID: tb.BytesToUint128(creditLineID(peer)), DebitAccountID: tb.BytesToUint128(operatorAccountID),
		CreditAccountID: peerID, Amount: tb.ToUint128(limit), Ledger: tbLedger, Code: codeCreditLine}}
	tr, err := call(ctx, l.conn, opEnsureAccount, func(c tb.Client) ([]tb.CreateTransferResult, error) {
		return c.CreateTransfers(line)
	})
	if err != nil {
		return fmt.Errorf("ensure credit line of peer %q: %w", peer, err)
	}
	if s := tr[0].Status; s != tb.TransferCreated && s != tb.TransferExists {
		return fmt.Errorf("ensure credit line of peer %q: TigerBeetle answered %s", peer, s)
	}
	return nil
}

// Prepare creates a pending transfer that TigerBeetle voids by itself after t.Timeout.
func (l *TigerBeetle) Prepare(ctx context.Context, t Transfer) (err error) {
	defer observe(l.metrics, opPrepare, time.Now(), &err)
	if err := checkTransfer(t); err != nil {
		return err
	}
	pending := tb.Transfer{ID: tb.BytesToUint128(t.ID), DebitAccountID: tb.BytesToUint128(AccountID(t.Debit)),
		CreditAccountID: tb.BytesToUint128(AccountID(t.Credit)), Amount: tb.ToUint128(t.Amount),
		Timeout: timeoutSeconds(t.Timeout), Ledger: tbLedger, Code: codeILPPacket,
		Flags: tb.TransferFlags{Pending: true}.ToUint16()}
	status, err := l.createTransfer(ctx, opPrepare, pending)
	if err != nil {
		return fmt.Errorf("prepare %x: %w", t.ID, err)
	}
	switch status {
	case tb.TransferCreated, tb.TransferExists:
		return nil
	case tb.TransferExceedsCredits:
		return fmt.Errorf("prepare %x: peer %q: %w", t.ID, t.Debit, ErrInsufficientLiquidity)
	case tb.TransferOverflowsDebitsPending, tb.TransferOverflowsDebitsPosted, tb.TransferOverflowsDebits:
		return fmt.Errorf("prepare %x of %d: debit peer %q: %w (TigerBeetle: %s)", t.ID, t.Amount, t.Debit, ErrAmountOverflow, status)
	case tb.TransferOverflowsCreditsPending, tb.TransferOverflowsCreditsPosted, tb.TransferOverflowsCredits:
		return fmt.Errorf("prepare %x of %d: credit peer %q: %w (TigerBeetle: %s)", t.ID, t.Amount, t.Credit, ErrAmountOverflow, status)
	case tb.TransferIDAlreadyFailed:
		return fmt.Errorf("prepare %x: %w", t.ID, ErrTransferFailed)
	case tb.TransferDebitAccountNotFound:
		return fmt.Errorf("prepare %x: debit peer %q: %w", t.ID, t.Debit, ErrUnknownAccount)
	case tb.TransferCreditAccountNotFound:
		return fmt.Errorf("prepare %x: credit peer %q: %w", t.ID, t.Credit, ErrUnknownAccount)
	case tb.TransferExistsWithDifferentFlags, tb.TransferExistsWithDifferentPendingID, tb.TransferExistsWithDifferentTimeout,
		tb.TransferExistsWithDifferentDebitAccountID, tb.TransferExistsWithDifferentCreditAccountID,
		tb.TransferExistsWithDifferentAmount, tb.TransferExistsWithDifferentUserData128, tb.TransferExistsWithDifferentUserData64,
		tb.TransferExistsWithDifferentUserData32, tb.TransferExistsWithDifferentLedger, tb.TransferExistsWithDifferentCode:
		return fmt.Errorf("prepare %x: %w (TigerBeetle: %s)", t.ID, ErrTransferConflict, status)
	}
	return fmt.Errorf("prepare %x: TigerBeetle answered %s", t.ID, status)
}

// Post completes the pending transfer id for its full amount.
func (l *TigerBeetle) Post(ctx context.Context, id TransferID) (err error) {
	defer observe(l.metrics, opPost, time.Now(), &err)
	return l.finish(ctx, opPost, tb.Transfer{ID: tb.BytesToUint128(postID(id)), PendingID: tb.BytesToUint128(id),
		Amount: tb.AmountMax, Flags: tb.TransferFlags{PostPendingTransfer: true}.ToUint16()})
}

// Void cancels the pending transfer id.
func (l *TigerBeetle) Void(ctx context.Context, id TransferID) (err error) {
	defer observe(l.metrics, opVoid, time.Now(), &err)
	return l.finish(ctx, opVoid, tb.Transfer{ID: tb.BytesToUint128(voidID(id)), PendingID: tb.BytesToUint128(id),
		Flags: tb.TransferFlags{VoidPendingTransfer: true}.ToUint16()})
}

func (l *TigerBeetle) finish(ctx context.Context, op string, t tb.Transfer) error {
	pending := t.PendingID.Bytes()
	switch {
	case TransferID(pending).isZero():
		return fmt.Errorf("ledger: %s: transfer id is zero", op)
	case !pendingKind(pending):
		return fmt.Errorf("%s %x: %w (it has the bits of a post or void id set)", op, pending, ErrUnknownTransfer)
	}
	status, err := l.createTransfer(ctx, op, t)
	if err != nil {
		return fmt.Errorf("%s %x: %w", op, pending, err)
	}
	switch status {
	case tb.TransferCreated, tb.TransferExists:
		return nil
	// A post or void of an unknown id spends its derived id: the retry hears id_already_failed.
	case tb.TransferPendingTransferNotFound, tb.TransferPendingTransferNotPending, tb.TransferIDAlreadyFailed:
		return fmt.Errorf("%s %x: %w", op, pending, ErrUnknownTransfer)
	case tb.TransferPendingTransferAlreadyPosted, tb.TransferPendingTransferAlreadyVoided, tb.TransferPendingTransferExpired:
		return fmt.Errorf("%s %x: %w (TigerBeetle: %s)", op, pending, ErrTransferFinished, status)
	}
	return fmt.Errorf("%s %x: TigerBeetle answered %s", op, pending, status)
}

func (l *TigerBeetle) createTransfer(ctx context.Context, op string, t tb.Transfer) (tb.CreateTransferStatus, error) {
	results, err := call(ctx, l.conn, op, func(c tb.Client) ([]tb.CreateTransferResult, error) {
		return c.CreateTransfers([]tb.Transfer{t})
	})
	if err != nil {
		return 0, err
	}
	if len(results) != 1 {
		return 0, fmt.Errorf("TigerBeetle sent %d results for one transfer", len(results))
	}
	return results[0].Status, nil
}

// Balance looks the peer's account up; the credit line is reported as CreditLimit, not as credits.
func (l *TigerBeetle) Balance(ctx context.Context, peer string) (b Balance, err error) {
	defer observe(l.metrics, opBalance, time.Now(), &err)
	found, err := call(ctx, l.conn, opBalance, func(c tb.Client) ([]tb.Account, error) {
		return c.LookupAccounts([]tb.Uint128{tb.BytesToUint128(AccountID(peer))})
	})
	if err != nil {
		return Balance{}, fmt.Errorf("balance of peer %q: %w", peer, err)
	}
	if len(found) == 0 {
		return Balance{}, fmt.Errorf("balance of peer %q: %w", peer, ErrUnknownAccount)
	}
	a := found[0]
	// credits_posted holds the credit line too: take it out before asking whether the rest fits in 64 bits.
	lo, hi := a.CreditsPosted.Uint64()
	lo, borrow := bits.Sub64(lo, a.UserData64, 0)
	if hi < borrow {
		// EnsureAccount was interrupted between the account and its credit line.
		return Balance{}, fmt.Errorf("balance of peer %q: the account has no credit line yet; call EnsureAccount again", peer)
	}
	b = Balance{CreditLimit: a.UserData64, CreditsPosted: lo}
	fits := hi-borrow == 0
	for _, f := range []struct {
		v   tb.Uint128
		dst *uint64
	}{{a.DebitsPending, &b.DebitsPending}, {a.DebitsPosted, &b.DebitsPosted}, {a.CreditsPending, &b.CreditsPending}} {
		lo, hi := f.v.Uint64()
		*f.dst, fits = lo, fits && hi == 0
	}
	if !fits {
		return Balance{}, fmt.Errorf("balance of peer %q: a total is past 2^64-1: %w", peer, ErrAmountOverflow)
	}
	return b, nil
}

// Ping looks up the operator account: a real round trip to the cluster (Nop is answered by the client itself).
func (l *TigerBeetle) Ping(ctx context.Context) (err error) {
	defer observe(l.metrics, opPing, time.Now(), &err)
	_, err = call(ctx, l.conn, opPing, func(c tb.Client) ([]tb.Account, error) {
		return c.LookupAccounts([]tb.Uint128{tb.BytesToUint128(operatorAccountID)})
	})
	return err
}

// Close closes the client, waiting at most CallTimeout for it.
func (l *TigerBeetle) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	return l.conn.close(ctx)
}

var _ Ledger = (*TigerBeetle)(nil)
var _ Ledger = (*Memory)(nil)
