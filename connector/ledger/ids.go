package ledger

import (
	"crypto/sha256"
	"time"
)

// Both implementations derive every identifier from what the caller gives, never from a counter, so that a
// retry after a crash or a timeout names the same account or transfer and the ledger can answer "exists".

// AccountID is the 128-bit ledger id of a peer's account: the first 16 bytes of SHA-256("m2m/peer/" + peer).
// It is stable across restarts and the same on every node.
func AccountID(peer string) [16]byte { return derive("m2m/peer/" + peer) }

// operatorAccountID is the account that funds credit lines (TigerBeetle only; see tigerbeetle.go).
var operatorAccountID = derive("m2m/operator")

func creditLineID(peer string) [16]byte { return derive("m2m/credit-line/" + peer) }

func postID(id TransferID) [16]byte { return derive("m2m/post/" + string(id[:])) }

func voidID(id TransferID) [16]byte { return derive("m2m/void/" + string(id[:])) }

func derive(s string) [16]byte {
	sum := sha256.Sum256([]byte(s))
	var id [16]byte
	copy(id[:], sum[:16])
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

func (id TransferID) isZero() bool { return id == TransferID{} }
