package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/m2mnet/m2m/connector/metrics"
)

var errEmptyPeer = errors.New("ledger: peer id is empty; every account belongs to a named peer")

// checkTransfer refuses what TigerBeetle would refuse, so that both ledgers fail the same way.
func checkTransfer(t Transfer) error {
	switch {
	case t.ID.isZero():
		return fmt.Errorf("ledger: transfer id is zero; give every transfer a unique non-zero id")
	case !pendingKind(t.ID):
		return fmt.Errorf("prepare %x: %w", t.ID, ErrReservedIDBits)
	case t.Debit == "" || t.Credit == "":
		return fmt.Errorf("prepare %x: %w", t.ID, errEmptyPeer)
	case t.Debit == t.Credit:
		return fmt.Errorf("prepare %x: debit and credit are both peer %q; a transfer moves value between two peers", t.ID, t.Debit)
	}
	return nil
}

// Operation names, the values of the "operation" label of m2m_ledger_operation_duration_seconds.
const (
	opEnsureAccount = "ensure_account"
	opPrepare       = "prepare"
	opPost          = "post"
	opVoid          = "void"
	opBalance       = "balance"
	opPing          = "ping"
)

// errNoAnswer marks a call that the cluster did not answer: the client went stale or its session was evicted.
// observe labels it, and a caller's own deadline, outcome="timeout".
var errNoAnswer = errors.New("no answer in time")

// started is when an operation that observe will record began: the zero time when m is nil, so that a ledger
// without metrics does not read the clock for them.
func started(m *metrics.Metrics) time.Time {
	if m == nil {
		return time.Time{}
	}
	return time.Now()
}

// observe records one operation's duration and outcome; m may be nil.
func observe(m *metrics.Metrics, op string, start time.Time, err *error) {
	if m == nil {
		return
	}
	outcome := "ok"
	switch {
	case errors.Is(*err, errNoAnswer), errors.Is(*err, context.DeadlineExceeded):
		outcome = "timeout"
	case *err != nil:
		outcome = "error"
	}
	m.LedgerOps.WithLabelValues(op, outcome).Observe(time.Since(start).Seconds())
}
