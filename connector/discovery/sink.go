package discovery

import (
	"context"
	"crypto/ed25519"
	"time"

	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/connector/node"
	"github.com/m2mnet/m2m/connector/routing"
)

// RoutingNode is what NodeSink needs of a connector/node.Node.
type RoutingNode interface {
	AddPeer(ctx context.Context, p routing.Peer) error
	RemovePeer(id string)
	Peers() []node.PeerStatus
}

// NodeSink hands discovered peers to a node as routing peers of relation "peer", routed by their ILP
// address and authenticated with signed tokens. Of two discovered nodes only the one with the smaller node
// id dials; the other adds the peer without a btpUrl and waits for it, so a pair shares one BTP session.
// It implements PeerSink, PeerChecker and PeerRemover.
type NodeSink struct {
	Node RoutingNode
	// Self is this node's id (NODE_ID) and Key its identity (NODE_PRIVATE_KEY): they sign the tokens.
	Self string
	Key  ed25519.PrivateKey
	// TokenTTL is the life of the token given with a dialled peer; default identity.MaxTokenTTL. The node
	// re-dials a lost session with the token it was given, so once that expires the session stays down
	// until the client, seeing it down for an Interval, hands the peer over again with a fresh token.
	TokenTTL time.Duration
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
		ttl = identity.MaxTokenTTL
	}
	rp := routing.Peer{
		ID: p.NodeID, ILPPrefix: p.ILPAddress, Relation: routing.RelationPeer, CreditLimit: s.CreditLimit,
		// The routing table wants a token for every peer; for one that dials us it is never sent.
		AuthToken: identity.NewToken(s.Key, s.Self, p.NodeID, ttl),
	}
	if s.Self < p.NodeID {
		rp.BTPURL = p.BTPEndpoint
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

func (s *NodeSink) static(nodeID string) bool { return s.Static != nil && s.Static(nodeID) }
