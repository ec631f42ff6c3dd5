package ledger

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// Account ids are derived from what the caller gives, never from a counter, so that a retry after a crash or a
// timeout names the same account and the ledger can answer "exists". Transfer ids come from NewTransferID and
// the ids of a transfer's post and void from its pending id, for the same reason.

// AccountID is the 128-bit ledger id of a peer's account: the first 16 bytes of SHA-256("m2m/peer/" + peer).
// It is stable across restarts and the same on every node.
func AccountID(peer string) [16]byte { return derive("m2m/peer/" + peer) }

// operatorAccountID is the account that funds credit lines (TigerBeetle only; see tigerbeetle.go).
var operatorAccountID = derive("m2m/operator")

func creditLineID(peer string) [16]byte { return derive("m2m/credit-line/" + peer) }

func derive(s string) [16]byte {
	sum := sha256.Sum256([]byte(s))
	var id [16]byte
	copy(id[:], sum[:16])
	return id
}

// A TransferID is a TigerBeetle time-based id (its data-modeling guide: random ids cost much throughput). Read
// as TigerBeetle reads the 16 bytes — a little-endian 128-bit number — it is a millisecond timestamp in the high
// 48 bits and 80 bits below that start random each millisecond and count up within it. The lowest two of those
// name the kind of transfer, so that the post and the void of a pending transfer have ids of their own, derived
// from its id, that no other transfer can have:
const (
	kindMask    = 0b11
	kindPending = 0b00
	kindPost    = 0b01
	kindVoid    = 0b10
)

func postID(id TransferID) [16]byte { id[0] |= kindPost; return id }

func voidID(id TransferID) [16]byte { id[0] |= kindVoid; return id }

// pendingKind reports whether id can name a pending transfer: its kind bits are clear.
func pendingKind(id TransferID) bool { return id[0]&kindMask == kindPending }

// idSource makes strictly increasing transfer ids. The zero value is ready to use.
type idSource struct {
	mu     sync.Mutex
	hi, lo uint64 // the last id: hi holds the timestamp and the top 16 random bits, lo the rest
}

// next returns an id greater than every id it returned before, with kind bits clear, even if the clock steps
// back: within a millisecond, and whenever the clock is behind the last id, it counts up from the last id.
func (s *idSource) next(now time.Time) TransferID {
	ms := uint64(now.UnixMilli())
	s.mu.Lock()
	if ms > s.hi>>16 {
		var r [10]byte
		_, _ = rand.Read(r[:]) // never fails (crypto/rand)
		s.hi = ms<<16 | uint64(binary.LittleEndian.Uint16(r[8:]))
		s.lo = binary.LittleEndian.Uint64(r[:8]) &^ kindMask
	} else {
		s.lo += kindMask + 1
		if s.lo <= kindMask { // the low word wrapped: carry, into the timestamp if need be
			s.hi++
		}
	}
	hi, lo := s.hi, s.lo
	s.mu.Unlock()
	var id TransferID
	binary.LittleEndian.PutUint64(id[:8], lo)
	binary.LittleEndian.PutUint64(id[8:], hi)
	return id
}

// timeoutSeconds rounds a pending transfer's timeout up to whole seconds, as TigerBeetle counts it; 0 means the
// transfer never expires on its own.
func timeoutSeconds(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	s := (d + time.Second - 1) / time.Second
	if s > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(s)
}

// Expires is when the ledger voids the transfer by itself if it was prepared at prepared: its timeout rounded up
// to whole seconds, as TigerBeetle counts it. The zero time means never.
func (t Transfer) Expires(prepared time.Time) time.Time {
	s := timeoutSeconds(t.Timeout)
	if s == 0 {
		return time.Time{}
	}
	return prepared.Add(time.Duration(s) * time.Second)
}

func (id TransferID) isZero() bool { return id == TransferID{} }

// idAfter reports whether a is greater than b, read as TigerBeetle reads ids (little-endian 128-bit numbers).
func idAfter(a, b TransferID) bool {
	ahi, bhi := binary.LittleEndian.Uint64(a[8:]), binary.LittleEndian.Uint64(b[8:])
	if ahi != bhi {
		return ahi > bhi
	}
	return binary.LittleEndian.Uint64(a[:8]) > binary.LittleEndian.Uint64(b[:8])
}
