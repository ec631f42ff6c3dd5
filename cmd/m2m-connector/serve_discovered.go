package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/m2mnet/m2m/connector/discovery"
	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/node"
	"github.com/m2mnet/m2m/connector/routing"
)

// dialTokenTTL is the life of the token nodeSink mints for each dial: the handshake follows at once.
const dialTokenTTL = 2 * time.Minute

// routingNode is what nodeSink needs of a connector/node.Node.
type routingNode interface {
	AddPeer(ctx context.Context, p routing.Peer) error
	RemovePeer(id string)
	Peers() []node.PeerStatus
}

// accountLedger is what the credit budget needs of the ledger: an existing account's credit limit.
type accountLedger interface {
	Balance(ctx context.Context, peer string) (ledger.Balance, error)
}

// nodeSink hands discovered peers to the node as routing peers of relation "peer", routed by exactly
// their own ILP address and authenticated with signed tokens. A peer this node chose is dialled; one that
// dialled in (Peer.Inbound) is added without a btpUrl. It implements discovery's PeerSink, PeerChecker,
// PeerRemover and StaticPeers. It lives here, where the connector is wired, so that connector/discovery (and
// the registry binary path) never links the node.
type nodeSink struct {
	node routingNode
	// self is this node's id (NODE_ID) and key its identity (NODE_PRIVATE_KEY): they sign the tokens.
	self string
	key  ed25519.PrivateKey
	// tokenTTL is the life of each token sent to a dialled peer; default dialTokenTTL.
	tokenTTL time.Duration
	now      func() time.Time // default time.Now
	// static reports the node ids of the peers file; discovery never replaces or removes those.
	static func(nodeID string) bool
	// dialControl vets the resolved address of every dial (discovery.DialControl); nil with the
	// private-network opt-in.
	dialControl func(network, address string, c syscall.RawConn) error
	credit      *creditBudget
}

// AddPeer adds or replaces p in the node.
func (s *nodeSink) AddPeer(ctx context.Context, p discovery.Peer) error {
	if s.static != nil && s.static(p.NodeID) {
		return nil
	}
	ttl := s.tokenTTL
	if ttl <= 0 {
		ttl = dialTokenTTL
	}
	now := s.now
	if now == nil {
		now = time.Now
	}
	limit, err := s.credit.grant(ctx, p.NodeID)
	if err != nil {
		return err
	}
	// No shared authToken: the peer proves itself with a token signed by its key (checked by the
	// Authenticator), and this node mints one for every dial, so a reconnect never presents an expired one.
	rp := routing.Peer{
		ID: p.NodeID, ILPPrefix: p.ILPAddress, Relation: routing.RelationPeer, CreditLimit: limit,
		PublicKey: identity.EncodePublicKey(p.PublicKey), DialControl: s.dialControl,
	}
	if !p.Inbound {
		rp.BTPURL = p.BTPEndpoint
		self, key, audience := s.self, s.key, p.NodeID
		rp.DialToken = func() string { return identity.NewTokenAt(key, self, audience, now(), ttl) }
	}
	return s.node.AddPeer(ctx, rp)
}

// Connected reports whether the node has a session with nodeID.
func (s *nodeSink) Connected(nodeID string) bool {
	for _, st := range s.node.Peers() {
		if st.ID == nodeID {
			return st.State == node.Connected
		}
	}
	return false
}

// RemovePeer drops a discovered peer from the node. Its ledger account, and the credit granted to it,
// stay: what it owes is still owed.
func (s *nodeSink) RemovePeer(nodeID string) {
	if s.static == nil || !s.static(nodeID) {
		s.node.RemovePeer(nodeID)
	}
}

// IsStatic reports a peers-file peer: discovery neither chooses nor counts it.
func (s *nodeSink) IsStatic(nodeID string) bool { return s.static != nil && s.static(nodeID) }

// creditBudget decides the credit limit of each discovered peer's ledger account: perPeer
// (DISCOVERED_PEER_CREDIT_LIMIT) while the credit granted to all discovered peers together stays within
// total (DISCOVERED_PEERS_CREDIT_TOTAL), 0 after that. A peer that has a ledger account already keeps the
// limit the account was made with (the ledger never changes it), and that limit counts against the total: a
// peer whose old limit does not fit is not added at all.
type creditBudget struct {
	perPeer, total uint64
	ledger         accountLedger
	log            *slog.Logger

	mu      sync.Mutex
	granted map[string]uint64
	sum     uint64
}

func newCreditBudget(perPeer, total uint64, l accountLedger, log *slog.Logger) *creditBudget {
	return &creditBudget{perPeer: perPeer, total: total, ledger: l, log: log, granted: map[string]uint64{}}
}

// errOverBudget refuses a discovered peer whose existing account's credit limit does not fit the budget.
var errOverBudget = errors.New("discovered peer's existing ledger account has more credit than the discovered-peer budget has left")

// grant returns the credit limit for nodeID's account, counting it against the total once.
func (b *creditBudget) grant(ctx context.Context, nodeID string) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if g, ok := b.granted[nodeID]; ok {
		return g, nil
	}
	limit := b.perPeer
	bal, err := b.ledger.Balance(ctx, nodeID)
	switch {
	case err == nil:
		limit = bal.CreditLimit // the account exists: its limit is fixed
		if b.sum+limit > b.total || b.sum+limit < b.sum {
			return 0, fmt.Errorf("%w: peer %s has a credit limit of %d from an earlier run, %d of %d granted already; give it a peers-file entry or raise the total",
				errOverBudget, nodeID, limit, b.sum, b.total)
		}
	case errors.Is(err, ledger.ErrUnknownAccount):
		if b.sum+limit > b.total || b.sum+limit < b.sum {
			if limit > 0 {
				b.log.Warn("discovered peer gets no credit: the total for discovered peers is used up", "peer", nodeID,
					"granted", b.sum, "total", b.total)
			}
			limit = 0
		}
	default:
		return 0, fmt.Errorf("read ledger account of discovered peer %s: %w", nodeID, err)
	}
	b.granted[nodeID] = limit
	b.sum += limit
	return limit, nil
}
