package node

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/ilp"
	"github.com/m2mnet/m2m/connector/routing"
)

// Local is a peer that lives in this process: a sender, or a receiver that answers the Prepares routed to
// its prefix (give it ILPPrefix = the node's address to receive for the node itself; without such a receiver
// the node rejects packets for its own address with F02).
type Local struct {
	node *Node
	id   string
}

// AttachLocal adds p as an in-process peer whose incoming Prepares h answers (h may be nil for a pure sender,
// which then rejects anything routed to it). Accounting is the same as for a BTP peer. Leave p.AuthToken
// empty: a random one is set, so that no one can connect over BTP as this peer.
func (n *Node) AttachLocal(ctx context.Context, p routing.Peer, h btp.Handler) (*Local, error) {
	if h == nil {
		h = btp.HandlerFunc(n.refuseLocal)
	}
	if p.AuthToken == "" {
		p.AuthToken = rand.Text()
	}
	if err := n.AddPeer(ctx, p); err != nil {
		return nil, fmt.Errorf("attach local peer: %w", err)
	}
	n.mu.Lock()
	n.locals[p.ID] = h
	n.updateGaugeLocked()
	n.mu.Unlock()
	return &Local{node: n, id: p.ID}, nil
}

// SendPrepare sends an encoded Prepare into the node as coming from this peer and returns the answer.
func (l *Local) SendPrepare(ctx context.Context, prepare []byte) []byte {
	return l.node.pipe.HandlePrepare(ctx, l.id, prepare)
}

func (n *Node) refuseLocal(context.Context, string, []byte) []byte {
	return rejectBytes(n.cfg.Address, "F02", "this local peer does not receive packets")
}

func rejectBytes(by, code, msg string) []byte {
	b, _ := (&ilp.Reject{Code: ilp.Code(code), TriggeredBy: by, Message: msg}).MarshalBinary()
	return b
}
