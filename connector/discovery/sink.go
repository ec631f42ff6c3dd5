package discovery

import (
	"context"
	"crypto/ed25519"
	"time"

	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/connector/node"
	"github.com/m2mnet/m2m/connector/routing"
)

// DefaultTokenTTL is the life of the token NodeSink mints for each dial: the handshake follows at once.
const DefaultTokenTTL = 2 * time.Minute

// RoutingNode is what NodeSink needs of a connector/node.Node.
type RoutingNode interface {
	AddPeer(ctx context.Context, p routing.Peer) error
	RemovePeer(id string)
	Peers() []node.PeerStatus
}

// NodeSink hands discovered peers to a node as routing peers of relation "peer", routed by their ILP
// address and authenticated with signed tokens. A peer this node chose is dialled; one that dialled in
// (Peer.Inbound) is added without a btpUrl. It implements PeerSink, PeerChecker, PeerRemover and StaticPeers.
type NodeSink struct {
	Node RoutingNode
	// Self is this node's id (NODE_ID) and Key its identity (NODE_PRIVATE_KEY): they sign the tokens.
	Self string
	Key  ed25519.PrivateKey
	// TokenTTL is the life of each token sent to a dialled peer; default DefaultTokenTTL. A token is minted
	// for every dial and used at once, so a short life only narrows what a captured token is good for.
	TokenTTL time.Duration
	// Now is the clock tokens are issued by; default time.Now.
	Now func() time.Time
	// CreditLimit is the ledger credit limit of a discovered peer's account.
	CreditLimit uint64
	// Static reports the node ids of the peers file; discovery never replaces or removes those.
	Static func(nodeID string) bool
}

// AddPeer adds or replaces p in the node.
func (s *NodeSink) AddPeer(ctx context.Context, p Peer) error {
	if s.static(p.NodeID) {
		return nil
	}
	ttl := s.TokenTTL
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	now := s.Now
	if now == nil {
		now = time.Now
	}
	// No shared authToken: the peer proves itself with a token signed by its key (checked by the
	// Authenticator), and this node mints one for every dial, so a reconnect never presents an expired one.
	rp := routing.Peer{
		ID: p.NodeID, ILPPrefix: p.ILPAddress, Relation: routing.RelationPeer, CreditLimit: s.CreditLimit,
		PublicKey: identity.EncodePublicKey(p.PublicKey),
	}
	if !p.Inbound {
		rp.BTPURL = p.BTPEndpoint
		self, key, audience := s.Self, s.Key, p.NodeID
		rp.DialToken = func() string { return identity.NewTokenAt(key, self, audience, now(), ttl) }
	}
	return s.Node.AddPeer(ctx, rp)
}

// Connected reports whether the node has a session with nodeID.
func (s *NodeSink) Connected(nodeID string) bool {
	for _, st := range s.Node.Peers() {
		if st.ID == nodeID {
			return st.State == node.Connected
		}
	}
	return false
}

// RemovePeer drops a discovered peer from the node.
func (s *NodeSink) RemovePeer(nodeID string) {
	if !s.static(nodeID) {
		s.Node.RemovePeer(nodeID)
	}
}

// IsStatic reports a peers-file peer: discovery neither chooses nor counts it.
func (s *NodeSink) IsStatic(nodeID string) bool { return s.static(nodeID) }

func (s *NodeSink) static(nodeID string) bool { return s.Static != nil && s.Static(nodeID) }
