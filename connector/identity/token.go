package identity

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Token limits. A token is a bearer credential for one audience; keeping its life short bounds the damage
// of one that is captured.
const (
	// MaxTokenTTL is the longest lifetime VerifyToken accepts; NewToken clamps to it.
	MaxTokenTTL = 10 * time.Minute
	// ClockSkew is the leeway VerifyToken allows between the two nodes' clocks.
	ClockSkew = 30 * time.Second

	tokenVersion  = "m2m1"
	maxTokenBytes = 2048
)

// Errors from VerifyToken, for errors.Is.
var (
	ErrMalformedToken = errors.New("malformed token")
	ErrUnknownNode    = errors.New("no public key known for node")
	ErrBadSignature   = errors.New("token signature does not verify")
	ErrWrongAudience  = errors.New("token is for another node")
	ErrTokenExpired   = errors.New("token expired")
	ErrTokenNotYet    = errors.New("token issued in the future")
	ErrTokenTooLong   = errors.New("token lifetime exceeds the maximum")
)

type tokenClaims struct {
	Issuer   string `json:"iss"`
	Audience string `json:"aud"`
	IssuedAt int64  `json:"iat"` // Unix milliseconds
	Expires  int64  `json:"exp"` // Unix milliseconds
}

// NewToken makes the BTP auth_token that node nodeID presents when it connects to audienceNodeID:
// "m2m1.<claims>.<signature>", base64url without padding, valid for ttl (at most MaxTokenTTL).
func NewToken(key ed25519.PrivateKey, nodeID, audienceNodeID string, ttl time.Duration) string {
	return NewTokenAt(key, nodeID, audienceNodeID, time.Now(), ttl)
}

// NewTokenAt is NewToken issued at now instead of the current time (for a node with its own clock).
func NewTokenAt(key ed25519.PrivateKey, nodeID, audience string, now time.Time, ttl time.Duration) string {
	ttl = min(ttl, MaxTokenTTL)
	claims, _ := json.Marshal(tokenClaims{Issuer: nodeID, Audience: audience, IssuedAt: now.UnixMilli(), Expires: now.Add(ttl).UnixMilli()})
	payload := tokenVersion + "." + base64.RawURLEncoding.EncodeToString(claims)
	sig := ed25519.Sign(key, []byte(tokenDomain+payload))
	return payload + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// VerifyToken checks a NewToken token presented to the node called audience and returns the node that
// signed it. keyFor gives the public key bound to a node id (by the registry or the peers file). Errors
// wrap the Err… values above and never repeat the token.
func VerifyToken(token, audience string, now time.Time, keyFor func(nodeID string) (ed25519.PublicKey, bool)) (nodeID string, err error) {
	if len(token) > maxTokenBytes {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrMalformedToken, maxTokenBytes)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] != tokenVersion {
		return "", fmt.Errorf("%w: want %s.<claims>.<signature>", ErrMalformedToken, tokenVersion)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("%w: claims are not base64url", ErrMalformedToken)
	}
	var c tokenClaims
	if err := json.Unmarshal(raw, &c); err != nil || c.Issuer == "" {
		return "", fmt.Errorf("%w: claims are not the expected JSON object", ErrMalformedToken)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return "", fmt.Errorf("%w: signature is not base64url of 64 bytes", ErrMalformedToken)
	}
	pub, ok := keyFor(c.Issuer)
	if !ok {
		return "", fmt.Errorf("%w %s: it is neither in the discovery registry nor in the peers file", ErrUnknownNode, quoteShort(c.Issuer))
	}
	if !ed25519.Verify(pub, []byte(tokenDomain+parts[0]+"."+parts[1]), sig) {
		return "", fmt.Errorf("%w: not signed by the key bound to node %s", ErrBadSignature, quoteShort(c.Issuer))
	}
	// The claims are authentic from here on; check what they say.
	if c.Audience != audience {
		return "", fmt.Errorf("%w: node %s made it for %s, this node is %s", ErrWrongAudience, quoteShort(c.Issuer), quoteShort(c.Audience), quoteShort(audience))
	}
	iat, exp := time.UnixMilli(c.IssuedAt), time.UnixMilli(c.Expires)
	if exp.Sub(iat) > MaxTokenTTL {
		return "", fmt.Errorf("%w: node %s asked for %s, at most %s", ErrTokenTooLong, quoteShort(c.Issuer), exp.Sub(iat), MaxTokenTTL)
	}
	if iat.After(now.Add(ClockSkew)) {
		return "", fmt.Errorf("%w: node %s issued it %s ahead of this clock; check NTP on both nodes", ErrTokenNotYet, quoteShort(c.Issuer), iat.Sub(now).Round(time.Second))
	}
	if !now.Before(exp.Add(ClockSkew)) {
		return "", fmt.Errorf("%w: node %s's token expired at %s", ErrTokenExpired, quoteShort(c.Issuer), exp.UTC().Format(time.RFC3339))
	}
	return c.Issuer, nil
}

// IsSignedToken reports whether token has the form NewToken makes, as opposed to a shared secret from the
// peers file; a node that accepts both uses it to pick the check.
func IsSignedToken(token string) bool { return strings.HasPrefix(token, tokenVersion+".") }

// KeyLookup gives the public key bound to a node id.
type KeyLookup func(nodeID string) (ed25519.PublicKey, bool)

// StaticKeys is a KeyLookup over a fixed map, e.g. the keys of the peers file.
func StaticKeys(keys map[string]ed25519.PublicKey) KeyLookup {
	return func(nodeID string) (ed25519.PublicKey, bool) {
		k, ok := keys[nodeID]
		return k, ok
	}
}

// FirstKey asks each lookup in order and returns the first key found; nil lookups are skipped. Put the
// operator's own configuration (the peers file) first so that it wins over what a registry says.
func FirstKey(lookups ...KeyLookup) KeyLookup {
	return func(nodeID string) (ed25519.PublicKey, bool) {
		for _, l := range lookups {
			if l == nil {
				continue
			}
			if k, ok := l(nodeID); ok {
				return k, true
			}
		}
		return nil, false
	}
}

// NewAuthenticator returns the func the BTP server calls with a connecting peer's auth_token: it answers
// the peer's node id when the token was made for selfNodeID, is in date and is signed by the key keyFor
// gives for that node, and an error otherwise. now defaults to time.Now.
func NewAuthenticator(selfNodeID string, keyFor KeyLookup, now func() time.Time) func(ctx context.Context, token string) (peerID string, err error) {
	if now == nil {
		now = time.Now
	}
	return func(ctx context.Context, token string) (string, error) {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		return VerifyToken(token, selfNodeID, now(), keyFor)
	}
}
