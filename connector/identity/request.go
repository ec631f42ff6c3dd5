package identity

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Domain-separation prefixes: every signed message starts with one, so a signature made for one purpose
// (a request, a token) can never be replayed as another. Announcement bodies are signed as they are, and
// they are JSON objects, which start with '{' and so cannot collide with these prefixes.
const (
	requestDomain = "m2m-request-v1\n"
	tokenDomain   = "m2m-btp-token-v1\n"
)

// SignBody signs an exact request body (an announcement) and returns the signature as standard base64.
func SignBody(key ed25519.PrivateKey, body []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(key, body))
}

// VerifyBody checks a SignBody signature over body.
func VerifyBody(pub ed25519.PublicKey, body []byte, signature string) error {
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return errors.New("signature is not standard base64 of a 64-byte ed25519 signature")
	}
	if !ed25519.Verify(pub, body, sig) {
		return errors.New("signature does not match the body and public key")
	}
	return nil
}

// SignRequest signs a body-less request (method, path, time) and returns the timestamp (Unix milliseconds,
// decimal) and the signature (standard base64) to send with it.
func SignRequest(key ed25519.PrivateKey, method, path string, at time.Time) (timestamp, signature string) {
	timestamp = strconv.FormatInt(at.UnixMilli(), 10)
	sig := ed25519.Sign(key, requestMessage(method, path, timestamp))
	return timestamp, base64.StdEncoding.EncodeToString(sig)
}

// VerifyRequest checks a SignRequest signature and that its timestamp is within maxSkew of now. It returns
// the signed time so the caller can refuse a replay of an older request.
func VerifyRequest(pub ed25519.PublicKey, method, path, timestamp, signature string, now time.Time, maxSkew time.Duration) (time.Time, error) {
	ms, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %s is not Unix milliseconds", quoteShort(timestamp))
	}
	at := time.UnixMilli(ms)
	if d := now.Sub(at); d > maxSkew || d < -maxSkew {
		return time.Time{}, fmt.Errorf("timestamp %s is %s away from this server's clock (allowed ±%s); check the clock (NTP) and sign a fresh request",
			at.UTC().Format(time.RFC3339), d.Round(time.Second), maxSkew)
	}
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return time.Time{}, errors.New("signature is not standard base64 of a 64-byte ed25519 signature")
	}
	if !ed25519.Verify(pub, requestMessage(method, path, timestamp), sig) {
		return time.Time{}, errors.New("signature does not match the request and the registered public key")
	}
	return at, nil
}

func requestMessage(method, path, timestamp string) []byte {
	return []byte(requestDomain + method + "\n" + path + "\n" + timestamp)
}
