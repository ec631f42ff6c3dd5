package routing

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Table is the set of peers and the routes to them. Lookups take no lock (the hot path reads an immutable
// snapshot); changes copy the snapshot, which suits a table that changes rarely and is read per packet.
type Table struct {
	address string
	mu      sync.Mutex // serialises writers
	snap    atomic.Pointer[snapshot]
}

type snapshot struct {
	peers    map[string]Peer     // by id
	routes   map[string]string   // ILP prefix → peer id
	tokens   map[[32]byte]string // sha256(token) → peer id, so lookups never compare the secret itself
	fallback string              // parent without a prefix: the default route
}

// NewTable returns an empty table for a connector whose own ILP address is address.
func NewTable(address string) *Table {
	t := &Table{address: address}
	t.snap.Store(&snapshot{peers: map[string]Peer{}, routes: map[string]string{}, tokens: map[[32]byte]string{}})
	return t
}

// Address is the connector's own ILP address.
func (t *Table) Address() string { return t.address }

// Prefix is the ILP prefix routed to p: its ilpPrefix, or for a child without one, address.id (its ILDCP
// address); "" for a parent without a prefix, which is the default route instead.
func (t *Table) Prefix(p Peer) string {
	if p.ILPPrefix == "" && p.Relation == RelationChild {
		return t.address + "." + p.ID
	}
	return p.ILPPrefix
}

// Add adds p, or replaces the peer with the same id. It refuses a prefix or token that another peer holds.
func (t *Table) Add(p Peer) error {
	if err := p.Validate(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.snap.Load()
	prefix := t.Prefix(p)
	if other, ok := old.routes[prefix]; ok && prefix != "" && other != p.ID {
		return fmt.Errorf("peer %s: prefix %q already routes to peer %s; remove that peer first or pick another prefix", p.ID, prefix, other)
	}
	if other, ok := old.tokens[sha256.Sum256([]byte(p.AuthToken))]; ok && other != p.ID && p.AuthToken != "" {
		return fmt.Errorf("peer %s: authToken is already used by peer %s; give each peer its own token", p.ID, other)
	}
	peers := make([]Peer, 0, len(old.peers)+1)
	for id, q := range old.peers {
		if id != p.ID {
			peers = append(peers, q)
		}
	}
	t.snap.Store(t.build(append(peers, p)))
	return nil
}

// Remove drops the peer with id and its routes; it reports whether there was one.
func (t *Table) Remove(id string) (Peer, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.snap.Load()
	p, ok := old.peers[id]
	if !ok {
		return Peer{}, false
	}
	peers := make([]Peer, 0, len(old.peers))
	for q := range old.peers {
		if q != id {
			peers = append(peers, old.peers[q])
		}
	}
	t.snap.Store(t.build(peers))
	return p, true
}

func (t *Table) build(peers []Peer) *snapshot {
	slices.SortFunc(peers, func(a, b Peer) int { return strings.Compare(a.ID, b.ID) })
	s := &snapshot{
		peers:  make(map[string]Peer, len(peers)),
		routes: make(map[string]string, len(peers)),
		tokens: make(map[[32]byte]string, len(peers)),
	}
	for _, p := range peers {
		s.peers[p.ID] = p
		if p.AuthToken != "" { // a peer known by its public key only has no shared token
			s.tokens[sha256.Sum256([]byte(p.AuthToken))] = p.ID
		}
		if prefix := t.Prefix(p); prefix != "" {
			s.routes[prefix] = p.ID
		} else if p.Relation == RelationParent && s.fallback == "" {
			s.fallback = p.ID
		}
	}
	return s
}

// Get returns the peer with id.
func (t *Table) Get(id string) (Peer, bool) {
	p, ok := t.snap.Load().peers[id]
	return p, ok
}

// Peers lists every peer, sorted by id.
func (t *Table) Peers() []Peer {
	s := t.snap.Load()
	out := make([]Peer, 0, len(s.peers))
	for _, p := range s.peers {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Peer) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// NextHop picks the peer for dest by longest prefix, matching whole segments only (g.bob routes g.bob.x
// but not g.bobby), and falls back to the parent without a prefix — except for addresses under the
// connector's own, which only a route of their own may take (the parent would send them straight back).
func (t *Table) NextHop(dest string) (Peer, bool) {
	s := t.snap.Load()
	for end := len(dest); end > 0; end = strings.LastIndexByte(dest[:end], '.') {
		if id, ok := s.routes[dest[:end]]; ok {
			return s.peers[id], true
		}
	}
	if s.fallback != "" && !under(dest, t.address) {
		return s.peers[s.fallback], true
	}
	return Peer{}, false
}

// ErrUnknownToken is returned by Authenticate for a token no peer has.
var ErrUnknownToken = errors.New("routing: auth token matches no peer")

// Authenticate maps a BTP auth token to the peer that holds it; it fits btp.ServerConfig.Authenticate.
func (t *Table) Authenticate(_ context.Context, token string) (string, error) {
	if id, ok := t.snap.Load().tokens[sha256.Sum256([]byte(token))]; ok && token != "" {
		return id, nil
	}
	return "", ErrUnknownToken
}

// under reports whether addr is prefix or below it, on segment boundaries.
func under(addr, prefix string) bool {
	return prefix != "" && strings.HasPrefix(addr, prefix) && (len(addr) == len(prefix) || addr[len(prefix)] == '.')
}
