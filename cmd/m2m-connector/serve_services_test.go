package main

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/config"
	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/connector/routing"
)

func genKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestStaticPeerWithAPublicKeyAuthenticatesWithSignedTokensBothWays(t *testing.T) {
	me, keyed, other := genKey(t), genKey(t), genKey(t)
	path := filepath.Join(t.TempDir(), "peers.yaml")
	doc := "peers:\n  - id: kid\n    authToken: tok-kid\n    relation: child\n" +
		"  - id: keyed\n    btpUrl: ws://keyed.example:4000/\n    ilpPrefix: g.keyed\n    relation: peer\n    publicKey: " +
		identity.EncodePublicKey(keyed.Public().(ed25519.PublicKey)) + "\n"
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{NodeID: "me", PeersFile: path, DefaultCreditLimit: 77}

	if _, _, err := staticPeers(cfg, nil); err == nil || !strings.Contains(err.Error(), "NODE_PRIVATE_KEY") {
		t.Fatalf("a keyed peer to dial without a node key: %v; want an error naming NODE_PRIVATE_KEY", err)
	}
	peers, keys, err := staticPeers(cfg, me)
	if err != nil {
		t.Fatal(err)
	}
	table := routing.NewTable("g.me")
	for _, p := range peers {
		if p.CreditLimit != 77 {
			t.Errorf("peer %s credit limit %d, want DEFAULT_CREDIT_LIMIT 77", p.ID, p.CreditLimit)
		}
		if err := table.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	// This node dials keyed with a token signed by its own key, made for keyed.
	dial := peers[1].DialToken
	if dial == nil {
		t.Fatal("keyed peer has no DialToken")
	}
	mine := identity.StaticKeys(map[string]ed25519.PublicKey{"me": me.Public().(ed25519.PublicKey)})
	if id, err := identity.VerifyToken(dial(), "keyed", time.Now(), mine); err != nil || id != "me" {
		t.Fatalf("dial token: %q, %v", id, err)
	}

	auth := staticAuthenticator("me", keys, table.Authenticate)
	tests := []struct {
		name, token, want string
	}{
		{"shared token of the peers file", "tok-kid", "kid"},
		{"signed by the keyed peer", identity.NewToken(keyed, "keyed", "me", time.Minute), "keyed"},
		{"signed by another key", identity.NewToken(other, "keyed", "me", time.Minute), ""},
		{"signed for another node", identity.NewToken(keyed, "keyed", "you", time.Minute), ""},
		{"signed by a node not in the file", identity.NewToken(other, "kid", "me", time.Minute), ""},
		{"guessed shared token", "tok-guess", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := auth(context.Background(), tt.token)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("accepted as %q", id)
				}
				return
			}
			if err != nil || id != tt.want {
				t.Fatalf("got %q, %v; want %q", id, err, tt.want)
			}
		})
	}
}
