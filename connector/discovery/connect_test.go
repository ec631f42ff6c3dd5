package discovery

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/m2mnet/m2m/internal/testenv"
)

// holdingSink is a real PeerSink that holds what it was given until told to remove it; every session it
// holds is up. static names a peers-file peer.
type holdingSink struct {
	mu     sync.Mutex
	held   map[string]Peer
	static string
}

func (s *holdingSink) AddPeer(_ context.Context, p Peer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held[p.NodeID] = p
	return nil
}

func (s *holdingSink) RemovePeer(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.held, id)
}

func (s *holdingSink) Connected(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.held[id]
	return ok
}

func (s *holdingSink) IsStatic(id string) bool { return id == s.static }

func (s *holdingSink) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.held {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func TestConnectorHoldsMaxPeersPreferringSharedSettlementAndReplacesOneThatLeaves(t *testing.T) {
	_, base := startRegistry(t, RegistryConfig{MaxPerClient: 100, RateBurst: 1000})
	nodes := map[string]testNode{}
	for i := range 50 {
		n := newTestNode(t, fmt.Sprintf("peer-%02d", i))
		if i < 10 {
			n.info.Capabilities = []string{"xrp-settlement"} // shares this node's settlement
		}
		nodes[n.info.NodeID] = n
		n.announce(t, base)
	}
	newTestNode(t, "static-0").announce(t, base)

	self := newTestNode(t, "self")
	self.info.Capabilities = []string{"xrp-settlement"}
	sink := &holdingSink{held: map[string]Peer{}, static: "static-0"}
	c, err := NewClient(ClientConfig{Endpoints: []string{base}, Self: self.info, Key: self.key, Sink: sink, MaxPeers: 8})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	tick := func() []string {
		c.sync(ctx, true)
		c.conns.wait()
		return sink.ids()
	}
	sharing := func(ids []string) bool {
		for _, id := range ids {
			if !slices.Contains(nodes[id].info.Capabilities, "xrp-settlement") {
				return false
			}
		}
		return true
	}

	first := tick()
	if len(first) != 8 || !sharing(first) {
		t.Fatalf("after the first poll the node holds %v (%d), want 8 peers that settle over XRP like it", first, len(first))
	}
	if again := tick(); !slices.Equal(again, first) {
		t.Fatalf("a second poll changed the chosen peers without cause: %v → %v", first, again)
	}
	if d, conn := c.Counts(); d != 51 || conn != 8 {
		t.Errorf("Counts() = %d discovered, %d connected; want 51, 8", d, conn)
	}

	gone := first[3]
	if code, _ := deleteSigned(t, base, gone, nodes[gone].key, time.Now()); code != http.StatusOK {
		t.Fatalf("DELETE %s: %d", gone, code)
	}
	after := tick()
	if len(after) != 8 || slices.Contains(after, gone) || !sharing(after) {
		t.Fatalf("after %s left the node holds %v (%d), want 8 without it, all settling over XRP", gone, after, len(after))
	}
	if slices.Contains(after, "static-0") {
		t.Errorf("the static peer was chosen by discovery")
	}
}

func TestConnectorReplacesAPeerItCannotReach(t *testing.T) {
	_, base := startRegistry(t, RegistryConfig{})
	for i := range 3 {
		newTestNode(t, fmt.Sprintf("p%d", i)).announce(t, base)
	}
	self := newTestNode(t, "self")
	sink := &failingSink{holdingSink: holdingSink{held: map[string]Peer{}}}
	c, err := NewClient(ClientConfig{Endpoints: []string{base}, Self: self.info, Key: self.key, Sink: sink, MaxPeers: 1,
		ConnectAttempts: 1, RetryAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// Refuse whichever peer is tried first; the place must go to another one on the next poll.
	sink.refuseFirst = true
	c.sync(t.Context(), true)
	c.conns.wait()
	c.sync(t.Context(), true)
	c.conns.wait()
	held := sink.ids()
	if len(held) != 1 || sink.refused == "" || held[0] == sink.refused {
		t.Fatalf("holds %v after %q could not be reached; want one other peer", held, sink.refused)
	}
}

// failingSink refuses the first peer it is given.
type failingSink struct {
	holdingSink
	refuseFirst bool
	refused     string
}

func (s *failingSink) AddPeer(ctx context.Context, p Peer) error {
	s.mu.Lock()
	if s.refuseFirst && s.refused == "" {
		s.refused = p.NodeID
	}
	refused := s.refused == p.NodeID
	s.mu.Unlock()
	if refused {
		return fmt.Errorf("connection refused (test)")
	}
	return s.holdingSink.AddPeer(ctx, p)
}

// TestAPeerThatDidNotChooseThisNodeAcceptsItsSession runs four real connectors that each choose one peer:
// every session a node dials must be accepted by the other end, which did not necessarily choose it back.
func TestAPeerThatDidNotChooseThisNodeAcceptsItsSession(t *testing.T) {
	const interval = 300 * time.Millisecond
	_, registry := startRegistry(t, RegistryConfig{AllowPrivate: true}) // the nodes live on 127.0.0.1
	names := []string{"n1", "n2", "n3", "n4"}
	nodes := map[string]*runningNode{}
	for _, name := range names {
		nodes[name] = startNode(t, name, registry, interval, 1)
	}
	testenv.WaitFor(t, 30*time.Second, "every node with a session to the peer it chose, seen from both ends", func() bool {
		for name, n := range nodes {
			chosen := 0
			n.client.conns.mu.Lock()
			var ids []string
			for id, st := range n.client.conns.peers {
				if st.chosen {
					chosen++
					ids = append(ids, id)
				}
			}
			n.client.conns.mu.Unlock()
			if chosen != 1 {
				return false
			}
			if !slices.Contains(n.connectedPeers(), ids[0]) || !slices.Contains(nodes[ids[0]].connectedPeers(), name) {
				return false
			}
		}
		return true
	})
}
