package routing

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestPeersFilePublicKeyMayStandInForTheSharedToken(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	pub2, _, _ := ed25519.GenerateKey(rand.Reader)
	key, key2 := base64.StdEncoding.EncodeToString(pub), base64.StdEncoding.EncodeToString(pub2)
	tests := []struct {
		name, doc, wantErr string
	}{
		{"two keyed peers without tokens", "peers:\n  - id: bob\n    ilpPrefix: g.bob\n    relation: peer\n    publicKey: " + key +
			"\n  - id: carol\n    ilpPrefix: g.carol\n    relation: peer\n    publicKey: " + key2 + "\n", ""},
		{"key and token together", "peers:\n  - id: bob\n    ilpPrefix: g.bob\n    relation: peer\n    authToken: t\n    publicKey: " + key + "\n", ""},
		{"key not base64", "peers:\n  - id: bob\n    ilpPrefix: g.bob\n    relation: peer\n    publicKey: not-a-key!\n", "peers.yaml:2: peer bob: publicKey"},
		{"key of the wrong size", "peers:\n  - id: bob\n    ilpPrefix: g.bob\n    relation: peer\n    publicKey: " +
			base64.StdEncoding.EncodeToString(make([]byte, 16)) + "\n", "want 32"},
		{"neither key nor token", "peers:\n  - id: bob\n    ilpPrefix: g.bob\n    relation: peer\n", "or the peer's publicKey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peers, err := ParsePeers("peers.yaml", []byte(tt.doc))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if peers[0].PublicKey != key {
				t.Errorf("publicKey = %q, want %q", peers[0].PublicKey, key)
			}
			tb := NewTable("g.me")
			for _, p := range peers {
				if err := tb.Add(p); err != nil {
					t.Fatalf("table refused %s: %v", p.ID, err)
				}
			}
			if id, err := tb.Authenticate(context.Background(), ""); !errors.Is(err, ErrUnknownToken) {
				t.Errorf("empty token authenticated as %q", id)
			}
		})
	}
}
