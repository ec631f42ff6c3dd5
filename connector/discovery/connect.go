package discovery

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// connector hands discovered peers to the Sink. It keeps at most MaxPeers of them chosen (static peers do
// not count): those sharing most settlement capabilities with this node first, then those it has known
// longest, then at random, so that the network does not converge on the same few nodes. A chosen peer that
// leaves the registries, or that cannot be reached after ConnectAttempts (with exponential backoff), gives
// its place to another; it may be chosen again after RetryAfter. Peers that chose this node and dial in are
// accepted too (acceptInbound), up to inboundFactor×MaxPeers, and do not take a place.
type connector struct {
	cfg ClientConfig
	log *slog.Logger
	wg  sync.WaitGroup

	mu    sync.Mutex
	peers map[string]*peerState
}

// DefaultMaxPeers is how many discovered peers a node chooses to connect to (PEER_DISCOVERY_MAX_PEERS).
const DefaultMaxPeers = 8

// inboundFactor bounds the discovered peers that may dial in, as a multiple of MaxPeers: with random choices
// a node is chosen by MaxPeers others on average, rarely by four times as many.
const inboundFactor = 4

type peerState struct {
	peer      Peer
	caps      []string
	firstSeen time.Time // when this client first saw the peer: its stability
	chosen    bool      // holds one of the MaxPeers places
	inbound   bool      // added because it dialled in (acceptInbound), not chosen
	gen       int       // bumped when the registry entry changes, so a stale attempt's result is dropped
	connected bool      // the Sink accepted the peer
	added     bool      // the Sink accepted it at least once: it must be removed when the peer leaves
	busy      bool
	retryAt   time.Time
	downSince time.Time // first tick a PeerChecker reported the accepted peer down
}

func newConnector(cfg ClientConfig, log *slog.Logger) *connector {
	return &connector{cfg: cfg, log: log, peers: map[string]*peerState{}}
}

// schedule updates the peers from view, forgets those no longer in it, frees the places of peers given up
// on, fills the free places and starts an attempt for every chosen peer not connected, not being tried and
// not waiting out a give-up.
func (c *connector) schedule(ctx context.Context, view []PeerInfo, keyFor func(string) (ed25519.PublicKey, bool)) {
	var removed []string
	defer func() { c.remove(removed) }()
	c.mu.Lock()
	defer c.mu.Unlock()
	checker, _ := c.cfg.Sink.(PeerChecker)
	now := c.cfg.Now()
	seen := map[string]bool{}
	for _, info := range view {
		p, ok := peerFrom(info, keyFor)
		if !ok || c.static(p.NodeID) {
			continue
		}
		seen[p.NodeID] = true
		st := c.peers[p.NodeID]
		switch {
		case st == nil:
			st = &peerState{peer: p, firstSeen: now}
			c.peers[p.NodeID] = st
		case !samePeer(st.peer, p):
			c.log.Info("discovered peer changed; connecting again", "peer", p.NodeID, "btpEndpoint", p.BTPEndpoint, "ilpAddress", p.ILPAddress)
			*st = peerState{peer: p, firstSeen: st.firstSeen, chosen: st.chosen, inbound: st.inbound, gen: st.gen + 1, busy: st.busy, added: st.added}
		case st.connected && checker != nil:
			c.checkLink(st, checker, now)
		}
		st.caps = info.Capabilities
	}
	for id, st := range c.peers {
		switch {
		case !seen[id]:
			delete(c.peers, id)
			if st.added {
				removed = append(removed, id)
			}
		case st.chosen && !st.busy && !st.connected && now.Before(st.retryAt):
			st.chosen = false // given up on: its place goes to another
			if st.added {
				st.added = false
				removed = append(removed, id)
			}
		}
	}
	c.choose(now)
	for _, st := range c.peers {
		if !st.chosen || st.connected || st.busy || now.Before(st.retryAt) || ctx.Err() != nil {
			continue
		}
		st.busy = true
		p, gen := st.peer, st.gen
		c.wg.Go(func() { c.connect(ctx, st, p, gen) })
	}
}

// choose fills the free places; c.mu is held.
func (c *connector) choose(now time.Time) {
	free := c.cfg.MaxPeers
	var candidates []*peerState
	var cands []candidate
	for _, st := range c.peers {
		switch {
		case st.chosen:
			free--
		case !st.inbound && !st.busy && !now.Before(st.retryAt):
			candidates = append(candidates, st)
			cands = append(cands, candidate{caps: st.caps, firstSeen: st.firstSeen})
		}
	}
	for _, i := range pickPeers(cands, c.cfg.Self.Capabilities, free, rand.Shuffle) {
		candidates[i].chosen = true
	}
}

// candidate is what choosing a peer looks at.
type candidate struct {
	caps      []string
	firstSeen time.Time
}

// pickPeers returns the indexes of up to free candidates: those sharing most settlement capabilities with
// mine first, then the longest known, then at random (shuffle, rand.Shuffle outside simulations).
func pickPeers(cands []candidate, mine []string, free int, shuffle func(n int, swap func(i, j int))) []int {
	if free <= 0 || len(cands) == 0 {
		return nil
	}
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	better := func(a, b int) bool { // a ranks before b
		sa, sb := shared(mine, cands[a].caps), shared(mine, cands[b].caps)
		if sa != sb {
			return sa > sb
		}
		return cands[a].firstSeen.Before(cands[b].firstSeen)
	}
	// The best free in shuffled order, keeping that order among equals: a stable sort's first free, in
	// O(n·free) rather than O(n log n), which matters at 10,000 candidates.
	top := make([]int, 0, free)
	for _, i := range order {
		if len(top) == free && !better(i, top[free-1]) {
			continue
		}
		at := len(top)
		for at > 0 && better(i, top[at-1]) {
			at--
		}
		if len(top) < free {
			top = append(top, 0)
		}
		copy(top[at+1:], top[at:len(top)-1])
		top[at] = i
	}
	return top
}

func shared(a, b []string) int {
	n := 0
	for _, x := range a {
		if slices.Contains(b, x) {
			n++
		}
	}
	return n
}

// acceptInbound hands the Sink a discovered peer that dialled in and proved its identity, so that the node
// keeps its session although this node did not choose it. The peer is added without dialling it back.
func (c *connector) acceptInbound(ctx context.Context, info PeerInfo, keyFor func(string) (ed25519.PublicKey, bool)) error {
	p, ok := peerFrom(info, keyFor)
	if !ok || c.static(p.NodeID) {
		return nil
	}
	p.Inbound = true
	c.mu.Lock()
	st := c.peers[p.NodeID]
	if st != nil && (st.chosen || st.added && samePeer(st.peer, p)) {
		c.mu.Unlock()
		return nil // chosen (this node dials it too), or accepted before
	}
	n := 0
	for _, o := range c.peers {
		if o.inbound {
			n++
		}
	}
	if limit := inboundFactor * c.cfg.MaxPeers; n >= limit {
		c.mu.Unlock()
		return &InboundLimitError{Limit: limit}
	}
	if st == nil {
		st = &peerState{peer: p, firstSeen: c.cfg.Now(), caps: info.Capabilities}
		c.peers[p.NodeID] = st
	}
	st.inbound = true
	c.mu.Unlock()
	if err := c.cfg.Sink.AddPeer(ctx, p); err != nil {
		return err
	}
	c.mu.Lock()
	st.added, st.connected = true, true
	c.mu.Unlock()
	c.log.Info("accepted discovered peer that dialled in", "peer", p.NodeID)
	return nil
}

// InboundLimitError refuses a discovered peer dialling in when as many as Limit already did.
type InboundLimitError struct{ Limit int }

func (e *InboundLimitError) Error() string {
	return fmt.Sprintf("this node already accepts %d discovered peers dialling in; try another node", e.Limit)
}

// acceptInbound is connector.acceptInbound for a node id the client's view knows; others are not discovered.
func (c *Client) acceptInbound(ctx context.Context, nodeID string) error {
	c.mu.Lock()
	info, ok := c.view[nodeID]
	c.mu.Unlock()
	if !ok {
		return nil
	}
	return c.conns.acceptInbound(ctx, info, c.KeyFor)
}

func (c *connector) static(nodeID string) bool {
	s, ok := c.cfg.Sink.(StaticPeers)
	return ok && s.IsStatic(nodeID)
}

// StaticPeers is implemented by a PeerSink that has peers of its own (a peers file): discovery neither
// chooses nor counts them.
type StaticPeers interface {
	IsStatic(nodeID string) bool
}

func (c *connector) remove(ids []string) {
	r, ok := c.cfg.Sink.(PeerRemover)
	if !ok {
		return
	}
	for _, id := range ids {
		r.RemovePeer(id)
		c.log.Info("removed discovered peer", "peer", id)
	}
}

// checkLink notes when an accepted peer's session is down, and after a whole Interval down marks it for a
// new AddPeer; c.mu is held.
func (c *connector) checkLink(st *peerState, checker PeerChecker, now time.Time) {
	if checker.Connected(st.peer.NodeID) {
		st.downSince = time.Time{}
		return
	}
	if st.downSince.IsZero() {
		st.downSince = now
		return
	}
	if now.Sub(st.downSince) >= c.cfg.Interval {
		c.log.Info("discovered peer has been down for an interval; handing it to the node again", "peer", st.peer.NodeID, "downFor", now.Sub(st.downSince))
		st.connected, st.downSince = false, time.Time{}
	}
}

func (c *connector) connect(ctx context.Context, st *peerState, p Peer, gen int) {
	var err error
	attempts := c.cfg.ConnectAttempts
	for attempt := 1; attempt <= attempts; attempt++ {
		actx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
		err = c.cfg.Sink.AddPeer(actx, p)
		cancel()
		if err == nil || ctx.Err() != nil || attempt == attempts {
			break
		}
		c.log.Debug("connecting to discovered peer failed; backing off", "peer", p.NodeID, "attempt", attempt, "err", err)
		t := time.NewTimer(c.backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	st.busy = false
	if _, known := c.peers[p.NodeID]; !known && err == nil {
		// The peer left the registries while this attempt ran: undo the late success.
		if r, ok := c.cfg.Sink.(PeerRemover); ok {
			c.wg.Go(func() { r.RemovePeer(p.NodeID) }) // outside c.mu, and waited for at shutdown
		}
		return
	}
	if c.peers[p.NodeID] != st || st.gen != gen {
		return // changed meanwhile; the next schedule deals with it
	}
	switch {
	case err == nil:
		st.connected, st.added = true, true
		c.log.Info("connected to discovered peer", "peer", p.NodeID, "btpEndpoint", p.BTPEndpoint)
	case ctx.Err() == nil:
		st.retryAt = c.cfg.Now().Add(c.cfg.RetryAfter)
		c.log.Warn("giving up on discovered peer for now", "peer", p.NodeID, "btpEndpoint", p.BTPEndpoint,
			"attempts", attempts, "retryIn", c.cfg.RetryAfter, "err", err)
	}
}

// backoff is BackoffMin doubled per failed attempt, capped at BackoffMax, with ±20% jitter so that nodes
// restarted together do not retry in step.
func (c *connector) backoff(attempt int) time.Duration {
	d := c.cfg.BackoffMin
	for i := 1; i < attempt && d < c.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, c.cfg.BackoffMax)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// connected counts accepted peers, and of those only the ones with a live session when the Sink can tell.
func (c *connector) connected() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	checker, _ := c.cfg.Sink.(PeerChecker)
	n := 0
	for id, st := range c.peers {
		if st.connected && (checker == nil || checker.Connected(id)) {
			n++
		}
	}
	return n
}

// wait returns when every attempt has ended; call it after the context given to schedule is done.
func (c *connector) wait() { c.wg.Wait() }

func samePeer(a, b Peer) bool {
	return a.NodeID == b.NodeID && a.BTPEndpoint == b.BTPEndpoint && a.ILPAddress == b.ILPAddress && a.PublicKey.Equal(b.PublicKey)
}
