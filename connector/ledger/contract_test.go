package ledger_test

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/ledger"
)

// testContract holds both ledgers to one behaviour. Every name and id is fresh, so the suite can run again and
// again against the same TigerBeetle cluster.
func testContract(t *testing.T, open func(t *testing.T) ledger.Ledger) {
	tests := []struct {
		name string
		run  func(t *testing.T, ctx context.Context, l ledger.Ledger)
	}{
		{"EnsureAccountTwiceIsSuccessAndKeepsTheFirstLimit", func(t *testing.T, ctx context.Context, l ledger.Ledger) {
			p := peer("alice")
			must(t, l.EnsureAccount(ctx, p, 500))
			must(t, l.EnsureAccount(ctx, p, 500))
			must(t, l.EnsureAccount(ctx, p, 9000))
			wantBalance(t, ctx, l, p, ledger.Balance{CreditLimit: 500})
		}},
		{"PrepareHoldsAmountPendingOnBothSides", func(t *testing.T, ctx context.Context, l ledger.Ledger) {
			a, b := accounts(t, ctx, l, 1000, 0)
			must(t, l.Prepare(ctx, ledger.Transfer{ID: l.NewTransferID(), Debit: a, Credit: b, Amount: 70, Timeout: time.Minute}))
			wantBalance(t, ctx, l, a, ledger.Balance{DebitsPending: 70, CreditLimit: 1000})
			wantBalance(t, ctx, l, b, ledger.Balance{CreditsPending: 70})
		}},
		{"PrepareRetriedWithSameFieldsCountsOnce", func(t *testing.T, ctx context.Context, l ledger.Ledger) {
			a, b := accounts(t, ctx, l, 1000, 0)
			tr := ledger.Transfer{ID: l.NewTransferID(), Debit: a, Credit: b, Amount: 70, Timeout: 30 * time.Second}
			must(t, l.Prepare(ctx, tr))
			must(t, l.Prepare(ctx, tr))
			wantBalance(t, ctx, l, a, ledger.Balance{DebitsPending: 70, CreditLimit: 1000})
		}},
		{"PrepareReusingIdWithOtherAmountIsConflict", func(t *testing.T, ctx context.Context, l ledger.Ledger) {
			a, b := accounts(t, ctx, l, 1000, 0)
			tr := ledger.Transfer{ID: l.NewTransferID(), Debit: a, Credit: b, Amount: 70, Timeout: 30 * time.Second}
			must(t, l.Prepare(ctx, tr))
			tr.Amount = 71
			wantErr(t, l.Prepare(ctx, tr), ledger.ErrTransferConflict)
		}},
		{"PostMovesPendingToPostedAndIsIdempotent", func(t *testing.T, ctx context.Context, l ledger.Ledger) {
			a, b := accounts(t, ctx, l, 1000, 0)
			id := l.NewTransferID()
			must(t, l.Prepare(ctx, ledger.Transfer{ID: id, Debit: a, Credit: b, Amount: 250, Timeout: time.Minute}))
			must(t, l.Post(ctx, id))
			must(t, l.Post(ctx, id))
			wantErr(t, l.Void(ctx, id), ledger.ErrTransferFinished)
			wantBalance(t, ctx, l, a, ledger.Balance{DebitsPosted: 250, CreditLimit: 1000})
			wantBalance(t, ctx, l, b, ledger.Balance{CreditsPosted: 250})
		}},
		{"VoidReleasesPendingAndIsIdempotent", func(t *testing.T, ctx context.Context, l ledger.Ledger) {
			a, b := accounts(t, ctx, l, 1000, 0)
			id := l.NewTransferID()
			must(t, l.Prepare(ctx, ledger.Transfer{ID: id, Debit: a, Credit: b, Amount: 250, Timeout: time.Minute}))
			must(t, l.Void(ctx, id))
			must(t, l.Void(ctx, id))
			wantErr(t, l.Post(ctx, id), ledger.ErrTransferFinished)
			wantBalance(t, ctx, l, a, ledger.Balance{CreditLimit: 1000})
			wantBalance(t, ctx, l, b, ledger.Balance{})
		}},
		{"CreditLimitRefusesWhatPendingAndPostedDebitsWouldExceed", func(t *testing.T, ctx context.Context, l ledger.Ledger) {
			a, b := accounts(t, ctx, l, 100, 0)
			first := l.NewTransferID()
			must(t, l.Prepare(ctx, ledger.Transfer{ID: first, Debit: a, Credit: b, Amount: 60, Timeout: time.Minute}))
			wantErr(t, l.Prepare(ctx, ledger.Transfer{ID: l.NewTransferID(), Debit: a, Credit: b, Amount: 41, Timeout: time.Minute}),
				ledger.ErrInsufficientLiquidity)
			must(t, l.Prepare(ctx, ledger.Transfer{ID: l.NewTransferID(), Debit: a, Credit: b, Amount: 40, Timeout: time.Minute}))
			must(t, l.Void(ctx, first))
			must(t, l.Prepare(ctx, ledger.Transfer{ID: l.NewTransferID(), Debit: a, Credit: b, Amount: 60, Timeout: time.Minute}))
		}},
		{"RefusedIdIsSpent", func(t *testing.T, ctx context.Context, l ledger.Ledger) {
			a, b := accounts(t, ctx, l, 100, 0)
			first := l.NewTransferID()
			must(t, l.Prepare(ctx, ledger.Transfer{ID: first, Debit: a, Credit: b, Amount: 100, Timeout: time.Minute}))
			refused := ledger.Transfer{ID: l.NewTransferID(), Debit: a, Credit: b, Amount: 50, Timeout: time.Minute}
			wantErr(t, l.Prepare(ctx, refused), ledger.ErrInsufficientLiquidity)
			must(t, l.Void(ctx, first))
			// There is room now, but the id was refused once: it stays refused.
			wantErr(t, l.Prepare(ctx, refused), ledger.ErrTransferFailed)
			refused.ID = l.NewTransferID()
			must(t, l.Prepare(ctx, refused))
			// Posting an unknown id twice says unknown twice.
			unknown := l.NewTransferID()
			wantErr(t, l.Post(ctx, unknown), ledger.ErrUnknownTransfer)
			wantErr(t, l.Post(ctx, unknown), ledger.ErrUnknownTransfer)
		}},
		{"PostedDebitsCountAgainstTheLimit", func(t *testing.T, ctx context.Context, l ledger.Ledger) {
			a, b := accounts(t, ctx, l, 100, 0)
			id := l.NewTransferID()
			must(t, l.Prepare(ctx, ledger.Transfer{ID: id, Debit: a, Credit: b, Amount: 60, Timeout: time.Minute}))
			must(t, l.Post(ctx, id))
			wantErr(t, l.Prepare(ctx, ledger.Transfer{ID: l.NewTransferID(), Debit: a, Credit: b, Amount: 41, Timeout: time.Minute}),
				ledger.ErrInsufficientLiquidity)
			must(t, l.Prepare(ctx, ledger.Transfer{ID: l.NewTransferID(), Debit: a, Credit: b, Amount: 40, Timeout: time.Minute}))
		}},
		{"PostedCreditsRaiseWhatAPeerMaySend", func(t *testing.T, ctx context.Context, l ledger.Ledger) {
			a, b := accounts(t, ctx, l, 100, 0)
			wantErr(t, l.Prepare(ctx, ledger.Transfer{ID: l.NewTransferID(), Debit: b, Credit: a, Amount: 1, Timeout: time.Minute}),
				ledger.ErrInsufficientLiquidity)
			in := l.NewTransferID()
			must(t, l.Prepare(ctx, ledger.Transfer{ID: in, Debit: a, Credit: b, Amount: 30, Timeout: time.Minute}))
			// Pending credits do not count: only posted ones.
			wantErr(t, l.Prepare(ctx, ledger.Transfer{ID: l.NewTransferID(), Debit: b, Credit: a, Amount: 1, Timeout: time.Minute}),
				ledger.ErrInsufficientLiquidity)
			must(t, l.Post(ctx, in))
			wantErr(t, l.Prepare(ctx, ledger.Transfer{ID: l.NewTransferID(), Debit: b, Credit: a, Amount: 31, Timeout: time.Minute}),
				ledger.ErrInsufficientLiquidity)
			must(t, l.Prepare(ctx, ledger.Transfer{ID: l.NewTransferID(), Debit: b, Credit: a, Amount: 30, Timeout: time.Minute}))
		}},
		{"UnknownPeersAndTransfersAreNamed", func(t *testing.T, ctx context.Context, l ledger.Ledger) {
			a, _ := accounts(t, ctx, l, 100, 0)
			nobody := peer("nobody")
			wantErr(t, l.Prepare(ctx, ledger.Transfer{ID: l.NewTransferID(), Debit: nobody, Credit: a, Amount: 1, Timeout: time.Minute}),
				ledger.ErrUnknownAccount)
			wantErr(t, l.Prepare(ctx, ledger.Transfer{ID: l.NewTransferID(), Debit: a, Credit: nobody, Amount: 1, Timeout: time.Minute}),
				ledger.ErrUnknownAccount)
			_, err := l.Balance(ctx, nobody)
			wantErr(t, err, ledger.ErrUnknownAccount)
			wantErr(t, l.Post(ctx, l.NewTransferID()), ledger.ErrUnknownTransfer)
			wantErr(t, l.Void(ctx, l.NewTransferID()), ledger.ErrUnknownTransfer)
		}},
		{"MalformedTransfersAreRefused", func(t *testing.T, ctx context.Context, l ledger.Ledger) {
			a, b := accounts(t, ctx, l, 100, 0)
			if err := l.Prepare(ctx, ledger.Transfer{Debit: a, Credit: b, Amount: 1, Timeout: time.Minute}); err == nil {
				t.Error("Prepare with a zero id succeeded")
			}
			if err := l.Prepare(ctx, ledger.Transfer{ID: l.NewTransferID(), Debit: a, Credit: a, Amount: 1, Timeout: time.Minute}); err == nil {
				t.Error("Prepare from a peer to itself succeeded")
			}
			if err := l.EnsureAccount(ctx, "", 1); err == nil {
				t.Error("EnsureAccount with an empty peer succeeded")
			}
		}},
		{"PendingTransferExpiresAfterItsTimeout", func(t *testing.T, ctx context.Context, l ledger.Ledger) {
			a, b := accounts(t, ctx, l, 100, 0)
			id := l.NewTransferID()
			must(t, l.Prepare(ctx, ledger.Transfer{ID: id, Debit: a, Credit: b, Amount: 100, Timeout: 1 * time.Second}))
			deadline := time.Now().Add(15 * time.Second)
			for {
				bal, err := l.Balance(ctx, a)
				must(t, err)
				if bal.DebitsPending == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("pending transfer with a 1 s timeout still held after 15 s: %+v", bal)
				}
				time.Sleep(100 * time.Millisecond)
			}
			wantErr(t, l.Post(ctx, id), ledger.ErrTransferFinished)
			must(t, l.Prepare(ctx, ledger.Transfer{ID: l.NewTransferID(), Debit: a, Credit: b, Amount: 100, Timeout: time.Minute}))
		}},
		{"PostWhoseFirstAttemptIsCancelledIsRetriedAndLandsOnce", func(t *testing.T, ctx context.Context, l ledger.Ledger) {
			a, b := accounts(t, ctx, l, 1000, 0)
			id := l.NewTransferID()
			must(t, l.Prepare(ctx, ledger.Transfer{ID: id, Debit: a, Credit: b, Amount: 250, Timeout: time.Minute}))
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			// The first attempt may or may not reach the ledger; either way its outcome is not known.
			if err := l.Post(cancelled, id); err != nil && !ledger.Retryable(err) {
				t.Fatalf("Post with a cancelled context = %v; want success or a retryable error", err)
			}
			must(t, ledger.RetryPost(ctx, l, id, nil, nil))
			wantBalance(t, ctx, l, a, ledger.Balance{DebitsPosted: 250, CreditLimit: 1000})
			wantBalance(t, ctx, l, b, ledger.Balance{CreditsPosted: 250})
		}},
		{"VoidWhoseFirstAttemptIsCancelledIsRetriedAndLands", func(t *testing.T, ctx context.Context, l ledger.Ledger) {
			a, b := accounts(t, ctx, l, 1000, 0)
			id := l.NewTransferID()
			must(t, l.Prepare(ctx, ledger.Transfer{ID: id, Debit: a, Credit: b, Amount: 250, Timeout: time.Minute}))
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			if err := l.Void(cancelled, id); err != nil && !ledger.Retryable(err) {
				t.Fatalf("Void with a cancelled context = %v; want success or a retryable error", err)
			}
			must(t, ledger.RetryVoid(ctx, l, id, nil, nil))
			wantBalance(t, ctx, l, a, ledger.Balance{CreditLimit: 1000})
			wantErr(t, l.Post(ctx, id), ledger.ErrTransferFinished)
		}},
		{"TransferIDsStrictlyIncrease", func(t *testing.T, ctx context.Context, l ledger.Ledger) {
			prev := l.NewTransferID()
			for range 20000 {
				id := l.NewTransferID()
				if !less(prev, id) {
					t.Fatalf("id %x after %x: not greater, as TigerBeetle reads ids (little-endian)", id, prev)
				}
				prev = id
			}
		}},
		{"PendingIdWithThePostOrVoidBitsIsRefused", func(t *testing.T, ctx context.Context, l ledger.Ledger) {
			a, b := accounts(t, ctx, l, 1000, 0)
			id := l.NewTransferID()
			id[0] |= 1
			wantErr(t, l.Prepare(ctx, ledger.Transfer{ID: id, Debit: a, Credit: b, Amount: 1, Timeout: time.Minute}), ledger.ErrReservedIDBits)
			wantErr(t, l.Post(ctx, id), ledger.ErrUnknownTransfer)
		}},
		{"PingReachesTheStore", func(t *testing.T, ctx context.Context, l ledger.Ledger) {
			must(t, l.Ping(ctx))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tc.run(t, ctx, open(t))
		})
	}
}

func accounts(t *testing.T, ctx context.Context, l ledger.Ledger, limitA, limitB uint64) (string, string) {
	t.Helper()
	a, b := peer("a"), peer("b")
	must(t, l.EnsureAccount(ctx, a, limitA))
	must(t, l.EnsureAccount(ctx, b, limitB))
	return a, b
}

func peer(prefix string) string { return prefix + "-" + rand.Text()[:12] }

// less compares two ids as TigerBeetle does: as little-endian 128-bit numbers.
func less(a, b ledger.TransferID) bool {
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

func wantBalance(t *testing.T, ctx context.Context, l ledger.Ledger, p string, want ledger.Balance) {
	t.Helper()
	got, err := l.Balance(ctx, p)
	must(t, err)
	if got != want {
		t.Fatalf("balance of %s = %+v, want %+v", p, got, want)
	}
}
