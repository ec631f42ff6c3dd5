package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/m2mnet/m2m/connector/metrics"
)

// unanswered marks an error after which the ledger may or may not have applied the request: the cluster did not
// answer, the client was rebuilt under the call, or no client could be built. Repeating the request with the
// same id is safe and needed.
type unanswered struct{ err error }

func (e unanswered) Error() string { return e.err.Error() }
func (e unanswered) Unwrap() error { return e.err }

// Retryable reports whether a Post or Void that returned err may not have been applied, so that it must be
// repeated with the same id: the ledger did not answer, or the caller's context ended first. A final answer —
// success, ErrTransferFinished, ErrUnknownTransfer — is not retryable.
func Retryable(err error) bool {
	var u unanswered
	return errors.As(err, &u) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// Bounds of the pause between two attempts; a TigerBeetle attempt that gets no answer already takes the
// ledger's call timeout, so the pause matters only when attempts fail fast (no client can be built).
const (
	retryPauseMin = 50 * time.Millisecond
	retryPauseMax = 2 * time.Second
)

// RetryPost repeats the Post of pending transfer id, with the same id, until the ledger gives a final answer or
// ctx ends — which the caller sets to the pending transfer's expiry, after which the ledger voids it by itself.
// Every attempt counts in m2m_ledger_retries_total; giving up counts in m2m_ledger_give_ups_total and is
// logged at ERROR with the transfer id: the ledger then misses a posting that happened.
func RetryPost(ctx context.Context, l Ledger, id TransferID, m *metrics.Metrics, log *slog.Logger) error {
	return retry(ctx, opPost, l.Post, id, m, log)
}

// RetryVoid is RetryPost for Void. Giving up matters less here: the ledger voids the transfer at its expiry.
func RetryVoid(ctx context.Context, l Ledger, id TransferID, m *metrics.Metrics, log *slog.Logger) error {
	return retry(ctx, opVoid, l.Void, id, m, log)
}

func retry(ctx context.Context, op string, attempt func(context.Context, TransferID) error, id TransferID,
	m *metrics.Metrics, log *slog.Logger) error {
	pause := retryPauseMin
	for n := 1; ; n++ {
		if m != nil {
			m.LedgerRetries.WithLabelValues(op).Inc()
		}
		err := attempt(ctx, id)
		if !Retryable(err) {
			if err == nil && log != nil {
				log.Info("ledger "+op+" landed on a retry", "transfer", fmt.Sprintf("%x", id), "attempts", n)
			}
			return err
		}
		if ctx.Err() == nil {
			t := time.NewTimer(pause)
			select {
			case <-t.C:
				pause = min(2*pause, retryPauseMax)
				continue
			case <-ctx.Done():
				t.Stop()
			}
		}
		if m != nil {
			m.LedgerGiveUps.WithLabelValues(op).Inc()
		}
		if log != nil {
			log.Error("ledger "+op+" gave up: the pending transfer expired before the ledger answered",
				"transfer", fmt.Sprintf("%x", id), "attempts", n, "err", err)
		}
		return fmt.Errorf("%s %x: gave up after %d attempts: %w", op, id, n, err)
	}
}
