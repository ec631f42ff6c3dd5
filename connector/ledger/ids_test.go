package ledger

import (
	"encoding/binary"
	"testing"
	"time"
)

func u128(id [16]byte) (hi, lo uint64) {
	return binary.LittleEndian.Uint64(id[8:]), binary.LittleEndian.Uint64(id[:8])
}

func less128(a, b [16]byte) bool {
	ah, al := u128(a)
	bh, bl := u128(b)
	return ah < bh || ah == bh && al < bl
}

// A post or void id lies strictly between its pending id and the next one: it can collide with no other
// transfer of this ledger, and keeps the ids TigerBeetle stores in time order.
func TestPostAndVoidIDsSitBetweenTheirPendingIDAndTheNext(t *testing.T) {
	var s idSource
	now := time.Now()
	for range 1000 {
		id := s.next(now)
		next := s.next(now)
		post, void := postID(id), voidID(id)
		if !less128(id, post) || !less128(post, void) || !less128(void, next) {
			t.Fatalf("pending %x, post %x, void %x, next pending %x: not in that order", id, post, void, next)
		}
		if !pendingKind(id) || pendingKind(post) || pendingKind(void) {
			t.Fatalf("kind bits: pending %x post %x void %x", id, post, void)
		}
	}
}

func TestTransferIDCarriesTheMillisecondInItsHigh48Bits(t *testing.T) {
	var s idSource
	now := time.UnixMilli(1_780_000_000_123)
	hi, _ := u128(s.next(now))
	if got := hi >> 16; got != uint64(now.UnixMilli()) {
		t.Fatalf("timestamp bits = %d, want %d", got, now.UnixMilli())
	}
}

func TestTransferIDCountsUpThroughTheLowWord(t *testing.T) {
	s := idSource{hi: 5, lo: ^uint64(0) &^ kindMask}
	hi, lo := u128(s.next(time.UnixMilli(0)))
	if hi != 6 || lo != 0 {
		t.Fatalf("after the low word's last value: hi %d lo %d, want 6 and 0", hi, lo)
	}
}
