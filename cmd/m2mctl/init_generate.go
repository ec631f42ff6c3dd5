package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"math/big"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/m2mnet/m2m/connector/identity"
)

const nodeIDAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// newNodeID proposes a node id: m2m- and 6 random lower-case letters and digits.
func newNodeID() (string, error) {
	b := []byte("m2m-______")
	for i := 4; i < len(b); i++ {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(nodeIDAlphabet))))
		if err != nil {
			return "", fmt.Errorf("generate node id: %w", err)
		}
		b[i] = nodeIDAlphabet[n.Int64()]
	}
	return string(b), nil
}

// newClusterID returns a random 128-bit TigerBeetle cluster id in decimal; 0 is reserved for testing.
func newClusterID() (string, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return "", fmt.Errorf("generate cluster id: %w", err)
		}
		if n.Sign() > 0 {
			return n.String(), nil
		}
	}
}

// generated holds the values init makes itself. Only the public key may be shown.
type generated struct {
	values    map[string]string
	publicKey ed25519.PublicKey
}

// generate makes the cluster id, the Grafana password and the node's identity key.
func generate() (generated, error) {
	cluster, err := newClusterID()
	if err != nil {
		return generated{}, err
	}
	nodeKey, pub, err := identity.GenerateKey()
	if err != nil {
		return generated{}, err
	}
	return generated{
		values: map[string]string{
			settings.TigerBeetleClusterID: cluster,
			// 26 characters of base32: 130 bits, and nothing that needs quoting in a .env.
			settings.GrafanaPassword: rand.Text(),
			settings.NodePrivateKey:  nodeKey,
		},
		publicKey: pub,
	}, nil
}
