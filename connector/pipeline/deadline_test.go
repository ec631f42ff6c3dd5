package pipeline

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

// valueCtx is a context that is not a pointer and holds a map: hashing it as a map key would panic.
type valueCtx struct {
	context.Context
	m map[string]int
}

func TestHopContextIsSharedWithinAMillisecondAndEndsOnlyWhenNoPacketHoldsIt(t *testing.T) {
	var ds deadlines
	parent := context.WithValue(context.Background(), ctxKey{}, "span")
	d := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	a := ds.acquire(parent, d.Add(100*time.Microsecond), true)
	b := ds.acquire(parent, d.Add(900*time.Microsecond), true)
	if a.ctx != b.ctx {
		t.Fatal("two packets with the same parent and expiry millisecond got different contexts")
	}
	if got, _ := a.ctx.Deadline(); !got.Equal(d) {
		t.Fatalf("deadline %s, want %s (the expiry truncated to the millisecond)", got, d)
	}
	if a.ctx.Value(ctxKey{}) != "span" {
		t.Fatal("the hop context lost its parent's values")
	}
	other := ds.acquire(parent, d.Add(time.Millisecond), true) // a newer millisecond: a new context
	if other.ctx == a.ctx {
		t.Fatal("a different expiry millisecond shared the context")
	}
	a.release()
	if err := b.ctx.Err(); err != nil {
		t.Fatalf("the context ended while a packet still held it: %v", err)
	}
	b.release()
	select {
	case <-b.ctx.Done():
	default:
		t.Fatal("the last packet released a context that is no longer the latest, and it did not end")
	}
	if !errors.Is(b.ctx.Err(), context.Canceled) {
		t.Fatalf("Err %v, want context.Canceled", b.ctx.Err())
	}
	// The latest context stays for the packets still to come in its millisecond, until a newer one replaces it.
	other.release()
	if other.ctx.Err() != nil {
		t.Fatal("the latest context ended as soon as it was idle; the next packets of its millisecond would not share it")
	}
	again := ds.acquire(parent, d.Add(time.Millisecond), true)
	if again.ctx != other.ctx {
		t.Fatal("an idle latest context was not reused")
	}
	again.release()
	newer := ds.acquire(parent, d.Add(2*time.Millisecond), true)
	defer newer.release()
	if !errors.Is(other.ctx.Err(), context.Canceled) {
		t.Fatalf("the idle context replaced by a newer one: Err %v, want context.Canceled", other.ctx.Err())
	}
	if len(ds.m) != 1 || len(ds.latest) != 1 {
		t.Fatalf("%d contexts and %d latest kept, want 1 and 1", len(ds.m), len(ds.latest))
	}
}

func TestHopContextEndsAtItsDeadline(t *testing.T) {
	var ds deadlines
	h := ds.acquire(context.Background(), time.Now().Add(30*time.Millisecond), true)
	defer h.release()
	select {
	case <-h.ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the hop context did not end at its deadline")
	}
	if !errors.Is(h.ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err %v, want context.DeadlineExceeded", h.ctx.Err())
	}
	if len(ds.m) != 0 || len(ds.latest) != 0 {
		t.Fatal("an expired context is still handed out")
	}
	past := ds.acquire(context.Background(), time.Now().Add(-time.Second), true)
	defer past.release()
	if !errors.Is(past.ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("a deadline already past: Err %v, want context.DeadlineExceeded at once", past.ctx.Err())
	}
}

func TestHopContextOfUnhashableParentOrUnsharedIsItsOwn(t *testing.T) {
	var ds deadlines
	parent := valueCtx{Context: context.WithValue(context.Background(), ctxKey{}, 7), m: map[string]int{}}
	d := time.Now().Add(time.Minute)
	a, b := ds.acquire(parent, d, true), ds.acquire(parent, d, true) // must not panic
	if a.ctx == b.ctx || a.ctx.Value(ctxKey{}) != 7 {
		t.Fatal("an unhashable parent's packets must get contexts of their own, with its values")
	}
	a.release()
	if a.ctx.Err() == nil || b.ctx.Err() != nil {
		t.Fatal("releasing one packet's own context must end it and only it")
	}
	b.release()
	s1, s2 := ds.acquire(context.Background(), d, false), ds.acquire(context.Background(), d, false)
	defer s1.release()
	defer s2.release()
	if s1.ctx == s2.ctx {
		t.Fatal("share=false still shared the context")
	}
}

func TestIdleContextsAreKeptForAtMostMaxIdleParents(t *testing.T) {
	var ds deadlines
	d := time.Now().Add(time.Minute)
	for range 3 * maxIdle { // a parent per packet, as with tracing
		h := ds.acquire(context.WithValue(context.Background(), ctxKey{}, 1), d, true)
		h.release()
	}
	if len(ds.latest) > maxIdle || len(ds.m) > maxIdle {
		t.Fatalf("%d idle contexts kept (%d in the map), at most %d allowed", len(ds.latest), len(ds.m), maxIdle)
	}
}
