package identity

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Purposes of a signed registry message. The purpose is the first line of what is signed, so a signature
// made for one purpose (an announcement, a deregistration, a BTP token) is never valid as another.
const (
	PurposeAnnounce = "m2m-announce-v1"
	PurposeDelete   = "m2m-delete-v1"
	tokenDomain     = "m2m-btp-token-v1\n"
)

// Errors from VerifyMessage, for errors.Is.
var (
	ErrBadTimestamp  = errors.New("timestamp is not Unix milliseconds")
	ErrStale         = errors.New("timestamp is too old")
	ErrFromFuture    = errors.New("timestamp is too far in the future")
	ErrBadMessageSig = errors.New("signature does not verify")
)

// SignedMessage is the exact byte string a registry message is signed over:
//
//	<purpose>\n<registry origin>\n<unix ms>\n<body>
//
// It binds what the message is for, which registry it is for (scheme://host[:port], lower case), when it
// was made and its exact body, so that a captured signature cannot be replayed at another registry, for
// another purpose or (with the registry's "strictly newer" rule) later.
func SignedMessage(purpose, origin string, unixMs int64, body []byte) []byte {
	head := purpose + "\n" + strings.ToLower(origin) + "\n" + strconv.FormatInt(unixMs, 10) + "\n"
	return append([]byte(head), body...)
}

// SignMessage signs a registry message made at time at and returns the timestamp (Unix milliseconds,
// decimal) and the signature (standard base64) to send with it.
func SignMessage(key ed25519.PrivateKey, purpose, origin string, at time.Time, body []byte) (timestamp, signature string) {
	ms := at.UnixMilli()
	sig := ed25519.Sign(key, SignedMessage(purpose, origin, ms, body))
	return strconv.FormatInt(ms, 10), base64.StdEncoding.EncodeToString(sig)
}

// Window is how far a signed timestamp may lie from the verifier's clock.
type Window struct {
	Past   time.Duration // how old a message may be
	Future time.Duration // how far ahead of this clock it may be (the signer's clock runs fast)
}

// VerifyMessage checks a SignMessage signature by pub over purpose, origin, timestamp and body, and that the
// timestamp lies within w of now. It returns the signed time so that the caller can refuse anything not
// newer than what it accepted before. Errors wrap the Err… values above and never repeat the signature.
func VerifyMessage(pub ed25519.PublicKey, purpose, origin, timestamp, signature string, body []byte, now time.Time, w Window) (time.Time, error) {
	ms, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, fmt.Errorf("%w: got %s", ErrBadTimestamp, quoteShort(timestamp))
	}
	at := time.UnixMilli(ms)
	if d := now.Sub(at); d > w.Past {
		return time.Time{}, fmt.Errorf("%w: signed at %s, %s before this server's clock (at most %s); check the clock (NTP) and sign a fresh one",
			ErrStale, at.UTC().Format(time.RFC3339), d.Round(time.Second), w.Past)
	} else if -d > w.Future {
		return time.Time{}, fmt.Errorf("%w: signed at %s, %s ahead of this server's clock (at most %s); check the clock (NTP)",
			ErrFromFuture, at.UTC().Format(time.RFC3339), (-d).Round(time.Second), w.Future)
	}
	return VerifySignature(pub, purpose, origin, timestamp, signature, body)
}

// VerifySignature is VerifyMessage without the clock: it checks only that pub signed the message. A mirror
// uses it to serve what another registry accepted at the time.
func VerifySignature(pub ed25519.PublicKey, purpose, origin, timestamp, signature string, body []byte) (time.Time, error) {
	ms, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, fmt.Errorf("%w: got %s", ErrBadTimestamp, quoteShort(timestamp))
	}
	at := time.UnixMilli(ms)
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return time.Time{}, fmt.Errorf("%w: not standard base64 of a 64-byte ed25519 signature", ErrBadMessageSig)
	}
	if !ed25519.Verify(pub, SignedMessage(purpose, origin, ms, body), sig) {
		return time.Time{}, fmt.Errorf("%w: not made by this key over %s for registry %s at this timestamp with this body",
			ErrBadMessageSig, purpose, quoteShort(strings.ToLower(origin)))
	}
	return at, nil
}
