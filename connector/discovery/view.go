package discovery

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/m2mnet/m2m/connector/identity"
)

// merge rebuilds the view from every registry's last successful answer: deduplicated by nodeId (newest
// lastSeen wins), without this node, without entries that fail validation. A registry that is down keeps
// contributing its last answer, so an outage does not make peers vanish. A node id is pinned to the first
// key seen for it; an entry with another key is ignored, so one registry cannot re-key a peer.
func (c *Client) merge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	view := map[string]PeerInfo{}
	for _, e := range c.endpoints {
		for _, p := range e.peers {
			if p.NodeID == c.cfg.Self.NodeID {
				continue
			}
			if err := p.Validate(); err != nil {
				c.log.Debug("ignoring invalid registry entry", "registry", e.display, "err", err)
				continue
			}
			if why := c.distrust(p); why != "" {
				if c.dropped[p.NodeID] != why {
					c.dropped[p.NodeID] = why
					c.log.Warn("ignoring discovered peer", "registry", e.display, "peer", p.NodeID, "ilpAddress", p.ILPAddress, "reason", why)
				}
				continue
			}
			key, err := identity.ParsePublicKey(p.PublicKey)
			if err != nil {
				c.log.Debug("ignoring registry entry without a usable public key", "registry", e.display, "peer", p.NodeID, "err", err)
				continue
			}
			if pinned, ok := c.pinned[p.NodeID]; ok && !pinned.Equal(key) {
				c.log.Warn("registry reports another public key for a known node; ignoring that entry",
					"registry", e.display, "peer", p.NodeID)
				continue
			}
			c.pinned[p.NodeID] = key
			if old, ok := view[p.NodeID]; !ok || p.LastSeen > old.LastSeen {
				view[p.NodeID] = p
			}
		}
	}
	for id := range view {
		delete(c.dropped, id)
		if _, ok := c.view[id]; !ok {
			c.log.Info("discovered peer", "peer", id, "btpEndpoint", view[id].BTPEndpoint, "ilpAddress", view[id].ILPAddress)
		}
	}
	c.view = view
}

// distrust says why a registry entry must not become a peer, or "" when it may: discovery carries no
// authority over routes, so the client re-checks what any registry says. c.mu is held.
func (c *Client) distrust(p PeerInfo) string {
	if err := p.CheckOwnership(c.cfg.NetworkPrefix); err != nil {
		return err.Error()
	}
	if overlaps(p.ILPAddress, c.cfg.Self.ILPAddress) {
		return fmt.Sprintf("its address %s overlaps this node's own address %s", p.ILPAddress, c.cfg.Self.ILPAddress)
	}
	for _, sp := range c.cfg.StaticPrefixes {
		if overlaps(p.ILPAddress, sp) {
			return fmt.Sprintf("its address %s overlaps %s, a prefix this node routes to a configured peer", p.ILPAddress, sp)
		}
	}
	if !c.cfg.AllowPrivate {
		if err := p.CheckTarget(); err != nil {
			return err.Error()
		}
	}
	return ""
}

// overlaps reports whether ILP addresses or prefixes a and b are equal or one sits under the other.
func overlaps(a, b string) bool {
	return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(b, a+".")
}

// noteReachability logs an outage once when it starts and once when it ends, and a refusal once per
// distinct message, so a registry that stays down does not fill the log every tick.
func (c *Client) noteReachability(e *endpoint, err error) {
	var rej *errRejected
	switch {
	case err == nil:
		if e.down {
			c.log.Info("discovery registry reachable again", "registry", e.display)
		}
		e.down, e.rejection = false, ""
	case errors.As(err, &rej):
		if e.down {
			c.log.Info("discovery registry reachable again", "registry", e.display)
			e.down = false
		}
		if rej.Error() != e.rejection {
			level := c.log.Warn
			if rej.status == http.StatusConflict || rej.status == http.StatusUnauthorized {
				level = c.log.Error // someone else holds our node id, or our key is wrong: the operator must act
			}
			level("discovery registry refused this node's announcement", "registry", e.display, "err", rej)
			e.rejection = rej.Error()
		}
	default:
		if !e.down {
			c.log.Warn("discovery registry unreachable; static peers keep working, retrying every interval",
				"registry", e.display, "interval", c.cfg.Interval, "err", err)
			e.down = true
		} else {
			c.log.Debug("discovery registry still unreachable", "registry", e.display, "err", err)
		}
	}
}

func (c *Client) publishMetrics() {
	m := c.cfg.Metrics
	if m == nil {
		return
	}
	discovered, _ := c.Counts()
	m.Peers.WithLabelValues("discovered").Set(float64(discovered))
	up := 0.0
	for _, e := range c.endpoints {
		if !e.down && e.fetched {
			up = 1
		}
	}
	m.DependencyUp.WithLabelValues("discovery").Set(up)
}

// deregister sends a signed DELETE for this node to every registry, bounded by deregisterTimeout, on a
// fresh context since the node's own has already ended.
func (c *Client) deregister() {
	ctx, cancel := context.WithTimeout(context.Background(), deregisterTimeout)
	defer cancel()
	path := deletePath(c.cfg.Self.NodeID)
	var wg sync.WaitGroup
	for _, e := range c.endpoints {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodDelete, e.base+path, nil)
			if err != nil {
				return
			}
			ts, sig := identity.SignMessage(c.cfg.Key, identity.PurposeDelete, e.origin, c.signingTime(), []byte(c.cfg.Self.NodeID))
			req.Header.Set(HeaderTimestamp, ts)
			req.Header.Set(HeaderSignature, sig)
			var ans struct{}
			if err := c.do(ctx, req, &ans); err != nil {
				c.log.Warn("could not deregister from discovery registry; the entry expires after 2×TTL", "registry", e.display, "err", err)
				return
			}
			c.log.Info("deregistered from discovery registry", "registry", e.display)
		})
	}
	wg.Wait()
}

// peerFrom converts a registry entry for the Sink; the key was validated by merge.
func peerFrom(p PeerInfo, keyFor func(string) (ed25519.PublicKey, bool)) (Peer, bool) {
	key, ok := keyFor(p.NodeID)
	if !ok {
		return Peer{}, false
	}
	return Peer{NodeID: p.NodeID, BTPEndpoint: p.BTPEndpoint, ILPAddress: p.ILPAddress, PublicKey: key}, true
}
