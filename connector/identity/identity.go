// Package identity is a node's ed25519 identity: the key kept in .env, signed requests to the discovery
// registry, and the signed, time-limited tokens that authenticate BTP connections between peers.
package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// GenerateKey makes a new node key. encodedPrivate is the value of NODE_PRIVATE_KEY in .env (standard,
// padded base64 of the 32-byte seed); it is a secret and must never be logged.
func GenerateKey() (encodedPrivate string, pub ed25519.PublicKey, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", nil, fmt.Errorf("generate ed25519 node key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(priv.Seed()), pub, nil
}

// ParsePrivateKey decodes NODE_PRIVATE_KEY. Its errors describe what is wrong with the value without
// repeating any of it.
func ParsePrivateKey(s string) (ed25519.PrivateKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("node private key (NODE_PRIVATE_KEY) is empty; run `m2mctl init` to generate one")
	}
	seed, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		// The decoder's message quotes an offset only, but say it ourselves to be sure nothing leaks.
		return nil, errors.New("node private key (NODE_PRIVATE_KEY) is not standard base64 " +
			"(alphabet A-Z a-z 0-9 + /, padded with =); copy it again from .env or run `m2mctl init` to make a new one")
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("node private key (NODE_PRIVATE_KEY) decodes to %d bytes, want the %d-byte ed25519 seed; "+
			"copy it again from .env or run `m2mctl init` to make a new one", len(seed), ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// EncodePublicKey is the form in which public keys travel: standard base64 of the 32-byte key.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey decodes a public key made by EncodePublicKey.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("public key %s is not standard base64: %w", quoteShort(s), err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key %s decodes to %d bytes, want %d (an ed25519 public key)",
			quoteShort(s), len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// quoteShort quotes a value for an error message, cut short so a hostile input cannot flood the logs.
func quoteShort(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
