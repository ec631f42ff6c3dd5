package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/m2mnet/m2m/connector/identity"
)

// SignedAnnouncement is an announcement exactly as its node signed it. A registry keeps it with the entry and
// serves it to mirrors (GET …?signed=1), which verify it themselves: a mirror adds no trust of its own.
type SignedAnnouncement struct {
	Body      []byte `json:"body"`      // the exact body posted, standard base64 in JSON
	Signature string `json:"signature"` // the X-M2M-Signature it came with
	Timestamp string `json:"timestamp"` // the X-M2M-Timestamp it came with
	Origin    string `json:"origin"`    // the registry origin it was signed for
}

// mirror pulls another registry's change feed into this one.
type mirror struct {
	url     string
	display string
	feed    *feedReader
	down    bool
}

func newMirror(r *Registry, raw string) (*mirror, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &MirrorURLError{URL: raw}
	}
	base := strings.TrimRight(u.String(), "/")
	return &mirror{url: base, display: u.Redacted(), feed: newFeedReader(base, r.cfg.HTTPClient, true, DefaultRequestTimeout)}, nil
}

// MirrorURLError is a mirror address that is not an http(s) URL.
type MirrorURLError struct{ URL string }

func (e *MirrorURLError) Error() string {
	return fmt.Sprintf("mirror %s is not an http:// or https:// URL of another registry, e.g. https://discovery.example.org", quoteShort(e.URL))
}

// pullMirrors brings every mirrored registry's entries up to date.
func (r *Registry) pullMirrors(ctx context.Context) {
	for _, m := range r.mirrors {
		_, err := m.feed.poll(ctx)
		switch {
		case err != nil && !m.down:
			r.log.Warn("mirrored registry unreachable; its entries expire here after 2×TTL", "mirror", m.display, "err", err)
			m.down = true
			continue
		case err != nil:
			continue
		case m.down:
			r.log.Info("mirrored registry reachable again", "mirror", m.display)
			m.down = false
		}
		r.applyMirror(m)
	}
}

// applyMirror makes this registry's entries from m match what m lists and verifies. An entry that announced
// here, or whose id or key is held here by another entry that is listed, wins over the mirrored one.
func (r *Registry) applyMirror(m *mirror) {
	now := r.cfg.Now()
	var tickets []uint64
	refused := 0
	r.mu.Lock()
	for id, p := range m.feed.peers {
		info, at, err := verifyMirrored(p, r.checkEntry)
		if err != nil {
			refused++
			r.log.Debug("mirrored entry does not verify; not served", "mirror", m.display, "nodeId", id, "err", err)
			continue
		}
		rec := r.nodes[id]
		if rec != nil && rec.PublicKey == p.PublicKey && (at.UnixMilli() <= rec.LastDelete || at.UnixMilli() < rec.LastAnnounce) {
			// Signed before the node's last DELETE or announcement accepted here: a replay (the same
			// announcement again is not older, and is applied as before).
			refused++
			r.log.Debug("mirrored entry is older than what this registry accepted; not served", "mirror", m.display, "nodeId", id)
			continue
		}
		if rec != nil && (rec.Source != m.url || rec.PublicKey != p.PublicKey) && (r.live(rec, now) || rec.PublicKey != p.PublicKey) {
			continue
		}
		if old, ok := r.byKey[p.PublicKey]; ok && old != id && r.live(r.nodes[old], now) {
			continue
		}
		if rec == nil {
			if len(r.nodes) >= r.cfg.MaxNodes {
				if v := r.evictable(now, nil); v != nil {
					r.evict(v, "the registry is full (mirror)")
				} else {
					continue
				}
			}
			rec = &record{NodeID: id, PublicKey: p.PublicKey}
			r.added(rec)
		}
		same := rec.Source == m.url && rec.Listed && !rec.Deleted && rec.BTPEndpoint == info.BTPEndpoint &&
			rec.ILPAddress == info.ILPAddress && rec.Version == info.Version && slices.Equal(rec.Capabilities, info.Capabilities)
		rec.BTPEndpoint, rec.ILPAddress, rec.Version = info.BTPEndpoint, info.ILPAddress, info.Version
		rec.Capabilities = append([]string{}, info.Capabilities...)
		rec.Signed, rec.Source, rec.Deleted = p.Signed, m.url, false
		rec.LastAnnounce = max(rec.LastAnnounce, at.UnixMilli())
		rec.LastSeen = now.UnixMilli() // live while the mirrored registry lists it
		if !same {
			tickets = append(tickets, r.changed(rec, now))
		}
	}
	for _, rec := range r.nodes {
		if _, listed := m.feed.peers[rec.NodeID]; rec.Source == m.url && !listed && !rec.Deleted {
			rec.Deleted = true
			tickets = append(tickets, r.changed(rec, now))
		}
	}
	r.mu.Unlock()
	if refused > 0 {
		r.log.Warn("mirrored entries that do not verify were not served", "mirror", m.display, "refused", refused)
	}
	if len(tickets) > 0 {
		if err := r.journal.wait(tickets[len(tickets)-1]); err != nil {
			r.log.Error("write registry log", "err", err)
		}
	}
}

// verifyMirrored checks that a mirrored entry is what its node signed: the signature verifies with the
// entry's key over the body, and the body, checked as an announcement here (check), says what the entry says.
// It returns the entry and the time it was signed at.
func verifyMirrored(p wirePeer, check func(PeerInfo) error) (PeerInfo, time.Time, error) {
	if p.Signed == nil {
		return PeerInfo{}, time.Time{}, fmt.Errorf("no signed announcement")
	}
	pub, err := identity.ParsePublicKey(p.PublicKey)
	if err != nil {
		return PeerInfo{}, time.Time{}, fmt.Errorf("publicKey: %w", err)
	}
	at, err := identity.VerifySignature(pub, identity.PurposeAnnounce, p.Signed.Origin, p.Signed.Timestamp, p.Signed.Signature, p.Signed.Body)
	if err != nil {
		return PeerInfo{}, time.Time{}, fmt.Errorf("signature: %w", err)
	}
	info, err := decodeAnnouncement(p.Signed.Body)
	if err == nil {
		err = check(info)
	}
	if err != nil {
		return PeerInfo{}, time.Time{}, err
	}
	if info.NodeID != p.NodeID || info.BTPEndpoint != p.BTPEndpoint || info.ILPAddress != p.ILPAddress ||
		info.Version != p.Version || !slices.Equal(info.Capabilities, p.Capabilities) {
		a, _ := json.Marshal(p.PeerInfo)
		return PeerInfo{}, time.Time{}, fmt.Errorf("the entry %s differs from what the node signed", quoteShort(string(a)))
	}
	return info, at, nil
}
