package identity

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVerifyToken(t *testing.T) {
	_, alice := mustKey(t)
	_, mallory := mustKey(t)
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	registry := StaticKeys(map[string]ed25519.PublicKey{"alice": alice.Public().(ed25519.PublicKey)})

	tampered := NewTokenAt(alice, "alice", "bob", now, time.Minute)
	parts := strings.Split(tampered, ".")
	other := strings.Split(NewTokenAt(alice, "alice", "carol", now, time.Minute), ".")
	tampered = parts[0] + "." + other[1] + "." + parts[2] // claims of one token, signature of another

	tests := []struct {
		name  string
		token string
		now   time.Time
		want  error
	}{
		{"valid", NewTokenAt(alice, "alice", "bob", now, time.Minute), now.Add(30 * time.Second), nil},
		{"valid within clock skew of expiry", NewTokenAt(alice, "alice", "bob", now, time.Minute), now.Add(time.Minute + ClockSkew - time.Millisecond), nil},
		{"expired", NewTokenAt(alice, "alice", "bob", now, time.Minute), now.Add(time.Minute + ClockSkew), ErrTokenExpired},
		{"wrong audience", NewTokenAt(alice, "alice", "carol", now, time.Minute), now, ErrWrongAudience},
		{"wrong key", NewTokenAt(mallory, "alice", "bob", now, time.Minute), now, ErrBadSignature},
		{"unknown node", NewTokenAt(mallory, "mallory", "bob", now, time.Minute), now, ErrUnknownNode},
		{"claims swapped under a signature", tampered, now, ErrBadSignature},
		{"issued in the future", NewTokenAt(alice, "alice", "bob", now.Add(time.Hour), time.Minute), now, ErrTokenNotYet},
		{"not a token", "hello", now, ErrMalformedToken},
		{"oversized", strings.Repeat("a", 5000), now, ErrMalformedToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := VerifyToken(tt.token, "bob", tt.now, registry)
			if tt.want == nil {
				if err != nil || id != "alice" {
					t.Fatalf("got %q, %v; want alice", id, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if id != "" {
				t.Errorf("refused token still named node %q", id)
			}
			if len(tt.token) > 20 && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error repeats the token")
			}
		})
	}
}

func TestNewTokenClampsLifetime(t *testing.T) {
	_, alice := mustKey(t)
	keys := StaticKeys(map[string]ed25519.PublicKey{"alice": alice.Public().(ed25519.PublicKey)})
	now := time.Now()
	tok := NewToken(alice, "alice", "bob", 24*time.Hour)
	if _, err := VerifyToken(tok, "bob", now.Add(MaxTokenTTL-time.Second), keys); err != nil {
		t.Fatalf("clamped token refused before MaxTokenTTL: %v", err)
	}
	if _, err := VerifyToken(tok, "bob", now.Add(MaxTokenTTL+ClockSkew+time.Second), keys); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("token asked for 24h still valid after MaxTokenTTL: %v", err)
	}
}

func TestAuthenticatorPrefersTheFirstKeySource(t *testing.T) {
	_, alice := mustKey(t)
	_, impostor := mustKey(t)
	peersFile := StaticKeys(map[string]ed25519.PublicKey{"alice": alice.Public().(ed25519.PublicKey)})
	registry := StaticKeys(map[string]ed25519.PublicKey{"alice": impostor.Public().(ed25519.PublicKey)})
	auth := NewAuthenticator("bob", FirstKey(peersFile, nil, registry), nil)

	if id, err := auth(context.Background(), NewToken(alice, "alice", "bob", time.Minute)); err != nil || id != "alice" {
		t.Fatalf("alice's own key: got %q, %v", id, err)
	}
	if _, err := auth(context.Background(), NewToken(impostor, "alice", "bob", time.Minute)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("key the registry holds overrode the peers file: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := auth(ctx, NewToken(alice, "alice", "bob", time.Minute)); err == nil {
		t.Fatal("authenticated on a cancelled context")
	}
}
