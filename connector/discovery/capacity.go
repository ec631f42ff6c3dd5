package discovery

import (
	"fmt"
	"net/http"
	"time"
)

// admit makes room for a node id new to the registry, or says why there is none; r.mu is held.
//
//   - A key holds one node id: a key whose id is still listed cannot take another (409); an unlisted one
//     moves to the new id and the old id is forgotten.
//   - A client network (IPv4 address, IPv6 /64) holds at most MaxPerClient ids: at its quota, its own oldest
//     unlisted id makes room, else 429.
//   - The registry holds at most MaxNodes ids: when full, the oldest unlisted id makes room, one never seen
//     again after its first announcement first; when every id is listed, 503.
func (r *Registry) admit(nodeID, key, client string, now time.Time) (int, string) {
	if old, ok := r.byKey[key]; ok {
		rec := r.nodes[old]
		if r.live(rec, now) {
			return http.StatusConflict, fmt.Sprintf("this public key already holds nodeId %q, which is listed; a key holds one node id: announce as %q, or deregister it first", old, old)
		}
		r.log.Info("node id moved to a new id of the same key", "from", old, "to", nodeID)
		r.forget(rec)
	}
	if client != "" && r.perClient[client] >= r.cfg.MaxPerClient {
		victim := r.evictable(now, func(rec *record) bool { return rec.From == client })
		if victim == nil {
			return http.StatusTooManyRequests, fmt.Sprintf("client network %s already registered %d node ids that are listed, its quota; %s",
				client, r.cfg.MaxPerClient, hint(r.cfg.Hints.MaxPerClient, "ask the registry's operator to raise it"))
		}
		r.evict(victim, "the client network's quota")
	}
	if len(r.nodes) >= r.cfg.MaxNodes {
		victim := r.evictable(now, nil)
		if victim == nil {
			return http.StatusServiceUnavailable, fmt.Sprintf("the registry is full (%d node ids, all listed); %s",
				r.cfg.MaxNodes, hint(r.cfg.Hints.MaxNodes, "ask its operator to raise the limit"))
		}
		r.evict(victim, "the registry is full")
	}
	return http.StatusOK, ""
}

// evictable picks the record to drop for room among those not listed and matching keep (nil: all): one never
// seen again after its first announcement if any, then the one unseen longest. It first publishes expiries,
// so that every record it may pick has had its removal in the change feed.
func (r *Registry) evictable(now time.Time, match func(*record) bool) *record {
	r.sweepExpired(now, true)
	var best *record
	for _, rec := range r.nodes {
		if rec.Listed || r.live(rec, now) || (match != nil && !match(rec)) {
			continue
		}
		if best == nil || (!rec.SeenAgain && best.SeenAgain) ||
			(rec.SeenAgain == best.SeenAgain && rec.LastSeen < best.LastSeen) {
			best = rec
		}
	}
	return best
}

func (r *Registry) evict(rec *record, why string) {
	r.log.Info("evicted an unlisted node id to make room", "nodeId", rec.NodeID, "seenAgain", rec.SeenAgain, "lastSeen", time.UnixMilli(rec.LastSeen).UTC(), "reason", why)
	r.forget(rec)
}

func hint(h, def string) string {
	if h != "" {
		return h
	}
	return def
}
