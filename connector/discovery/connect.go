package discovery

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// connector hands discovered peers to the Sink: one attempt loop per peer at a time, with exponential
// backoff, giving up after ConnectAttempts and trying again RetryAfter later.
type connector struct {
	cfg ClientConfig
	log *slog.Logger
	wg  sync.WaitGroup

	mu    sync.Mutex
	peers map[string]*peerState
}

type peerState struct {
	peer      Peer
	gen       int  // bumped when the registry entry changes, so a stale attempt's result is dropped
	connected bool // the Sink accepted the peer
	added     bool // the Sink accepted it at least once: it must be removed when the peer leaves
	busy      bool
	retryAt   time.Time
	downSince time.Time // first tick a PeerChecker reported the accepted peer down
}

func newConnector(cfg ClientConfig, log *slog.Logger) *connector {
	return &connector{cfg: cfg, log: log, peers: map[string]*peerState{}}
}

// schedule starts an attempt for every peer in view that is neither connected, nor being tried, nor
// waiting out a give-up; peers no longer in view are forgotten.
func (c *connector) schedule(ctx context.Context, view []PeerInfo, keyFor func(string) (ed25519.PublicKey, bool)) {
	var removed []string
	defer func() {
		if r, ok := c.cfg.Sink.(PeerRemover); ok {
			for _, id := range removed {
				r.RemovePeer(id)
				c.log.Info("removed discovered peer that left the registries", "peer", id)
			}
		}
	}()
	c.mu.Lock()
	defer c.mu.Unlock()
	checker, _ := c.cfg.Sink.(PeerChecker)
	now := c.cfg.Now()
	seen := map[string]bool{}
	for _, info := range view {
		p, ok := peerFrom(info, keyFor)
		if !ok {
			continue
		}
		seen[p.NodeID] = true
		st := c.peers[p.NodeID]
		switch {
		case st == nil:
			st = &peerState{peer: p}
			c.peers[p.NodeID] = st
		case !samePeer(st.peer, p):
			c.log.Info("discovered peer changed; connecting again", "peer", p.NodeID, "btpEndpoint", p.BTPEndpoint, "ilpAddress", p.ILPAddress)
			*st = peerState{peer: p, gen: st.gen + 1, busy: st.busy, added: st.added}
		case st.connected && checker != nil:
			c.checkLink(st, checker, now)
		}
		if st.connected || st.busy || now.Before(st.retryAt) || ctx.Err() != nil {
			continue
		}
		st.busy = true
		gen := st.gen
		c.wg.Go(func() { c.connect(ctx, st, p, gen) })
	}
	for id, st := range c.peers {
		if !seen[id] {
			delete(c.peers, id)
			if st.added {
				removed = append(removed, id)
			}
		}
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
