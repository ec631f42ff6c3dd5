package routing

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
)

// peersFile is the PEERS_FILE document:
//
//	peers:
//	  - id: bob
//	    btpUrl: ws://bob:7768/
//	    authToken: ...
//	    ilpPrefix: g.bob
//	    relation: peer
//	    maxPacketAmount: 1000000
//	    creditLimit: 5000000
//	    publicKey: <base64 ed25519>   # optional: the peer may then authenticate with a signed token
type peersFile struct {
	Peers []yaml.Node `yaml:"peers"`
}

// LoadPeersFile reads and validates the peers file at path. Errors name the file, the line and the fix.
func LoadPeersFile(path string) ([]Peer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read peers file: %w; set PEERS_FILE to a readable YAML file", err)
	}
	return ParsePeers(path, data)
}

// ParsePeers parses a peers document; name is used in error messages.
func ParsePeers(name string, data []byte) ([]Peer, error) {
	// Decode twice: strictly into Peers (unknown fields such as a mistyped btpURL are errors, with their line),
	// and into nodes, for the line of each peer that fails validation.
	var typed struct {
		Peers []Peer `yaml:"peers"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&typed); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %v; the file is a mapping with a peers: list whose items have id, btpUrl, authToken, ilpPrefix, relation, maxPacketAmount, creditLimit, publicKey", name, err)
	}
	var nodes peersFile
	if err := yaml.Unmarshal(data, &nodes); err != nil || len(nodes.Peers) != len(typed.Peers) {
		return nil, fmt.Errorf("%s: cannot read peer positions: %v", name, err)
	}
	ids := map[string]int{}
	tokens := map[string]string{}
	prefixes := map[string]string{}
	for i, p := range typed.Peers {
		line := nodes.Peers[i].Line
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if first, dup := ids[p.ID]; dup {
			return nil, fmt.Errorf("%s:%d: peer id %q is already used on line %d; ids must be unique", name, line, p.ID, first)
		}
		if other, dup := tokens[p.AuthToken]; dup && p.AuthToken != "" {
			return nil, fmt.Errorf("%s:%d: peer %s has the same authToken as peer %s; give each peer its own token", name, line, p.ID, other)
		}
		if other, dup := prefixes[p.ILPPrefix]; dup && p.ILPPrefix != "" {
			return nil, fmt.Errorf("%s:%d: peer %s has ilpPrefix %q like peer %s; a prefix routes to one peer", name, line, p.ID, p.ILPPrefix, other)
		}
		ids[p.ID], tokens[p.AuthToken], prefixes[p.ILPPrefix] = line, p.ID, p.ID
	}
	return typed.Peers, nil
}
