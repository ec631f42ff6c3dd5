package discovery

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Paging and the change feed of GET /api/v1/peers.
//
//   - no parameters: every listed node, as the seed answered ({peers, total}), plus cursor.
//   - limit=N: at most N nodes in nodeId order, and next when there are more: pass it as cursor= for the
//     next page. Changes made while paging are in the feed from the first page's cursor on.
//   - since=<cursor>: what changed after that cursor, in change order: peers added or changed, and the node
//     ids removed (deregistered, expired, or without the asked capabilities any more); limit bounds it and
//     more says there is more to fetch from the answer's cursor. A cursor this registry cannot serve from
//     (another registry's, or older than what it still remembers) answers 410: list again without since.
//   - ETag on every answer; If-None-Match with it answers 304 while nothing changed.
const (
	maxPageLimit = 5000
	// sweepEvery bounds how often a read scans for expired entries to publish them in the feed.
	sweepEvery = time.Second
)

// changeFeed orders the registry's changes; guarded by Registry.mu.
type changeFeed struct {
	epoch     string
	head      uint64   // number of the last change
	floor     uint64   // a cursor below this missed the removal of a node since forgotten
	changes   []change // in order; an entry is stale once its record changed again
	sorted    []string // node ids in order, rebuilt when nil
	lastSweep time.Time
}

type change struct {
	seq uint64
	id  string
}

func (f *changeFeed) load(st state) {
	f.epoch, f.floor, f.head = st.epoch, st.floor, st.floor
	for id, rec := range st.nodes {
		f.head = max(f.head, rec.Seq)
		f.changes = append(f.changes, change{rec.Seq, id})
	}
	slices.SortFunc(f.changes, func(a, b change) int { return cmpUint(a.seq, b.seq) })
}

func (f *changeFeed) cursor(seq uint64) string { return f.epoch + "." + strconv.FormatUint(seq, 10) }

// changed gives rec the next change number and queues it for the log; r.mu is held. The caller waits on
// the returned ticket when the change must be on disk before it answers.
func (r *Registry) changed(rec *record, now time.Time) uint64 {
	f := &r.feed
	f.head++
	rec.Seq, rec.Listed = f.head, r.live(rec, now)
	f.changes = append(f.changes, change{f.head, rec.NodeID})
	if len(f.changes) > 2*len(r.nodes)+1024 {
		live := f.changes[:0]
		for _, c := range f.changes {
			if rec := r.nodes[c.id]; rec != nil && rec.Seq == c.seq {
				live = append(live, c)
			}
		}
		f.changes = live
	}
	return r.journal.put(rec)
}

// added notes a node id new to the registry; r.mu is held.
func (r *Registry) added(rec *record) {
	r.nodes[rec.NodeID] = rec
	r.byKey[rec.PublicKey] = rec.NodeID
	if rec.From != "" {
		r.perClient[rec.From]++
	}
	r.feed.sorted = nil
}

// forget drops a record for good; r.mu is held. Its removal was published when it stopped being listed; a
// cursor older than that can no longer learn of it, hence the floor.
func (r *Registry) forget(rec *record) {
	delete(r.nodes, rec.NodeID)
	if r.byKey[rec.PublicKey] == rec.NodeID {
		delete(r.byKey, rec.PublicKey)
	}
	if rec.From != "" {
		if r.perClient[rec.From]--; r.perClient[rec.From] <= 0 {
			delete(r.perClient, rec.From)
		}
	}
	r.feed.floor = max(r.feed.floor, rec.Seq)
	r.feed.sorted = nil
	r.journal.forget(rec.NodeID, r.feed.floor)
}

// sweepExpired publishes entries that stopped being listed since the last sweep; r.mu is held.
func (r *Registry) sweepExpired(now time.Time, force bool) {
	if !force && now.Sub(r.feed.lastSweep) < sweepEvery && !now.Before(r.feed.lastSweep) {
		return
	}
	r.feed.lastSweep = now
	for _, rec := range r.nodes {
		if rec.Listed && !r.live(rec, now) {
			r.changed(rec, now)
		}
	}
}

type listQuery struct {
	want   []string
	limit  int
	page   string // cursor=: the last node id of the previous page
	since  string
	signed bool
}

func parseListQuery(req *http.Request) (listQuery, error) {
	var q listQuery
	v := req.URL.Query()
	for _, s := range v["capabilities"] {
		for c := range strings.SplitSeq(s, ",") {
			if c = strings.TrimSpace(c); c == "" {
				continue
			}
			if !slices.Contains(KnownCapabilities, c) {
				return q, fmt.Errorf("query parameter capabilities: %s is unknown; known: %s", quoteShort(c), strings.Join(KnownCapabilities, ", "))
			}
			q.want = append(q.want, c)
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageLimit {
			return q, fmt.Errorf("query parameter limit: %s is not a number from 1 to %d", quoteShort(s), maxPageLimit)
		}
		q.limit = n
	}
	q.page, q.since = v.Get("cursor"), v.Get("since")
	if q.page != "" && ValidNodeID(q.page) != nil {
		return q, fmt.Errorf("query parameter cursor: %s is not a page cursor; pass the next value of the previous page", quoteShort(q.page))
	}
	if q.page != "" && q.since != "" {
		return q, fmt.Errorf("query parameters cursor and since do not go together: page a listing with cursor, or follow changes with since")
	}
	q.signed = v.Get("signed") == "1" || v.Get("signed") == "true"
	return q, nil
}

// serves reports whether rec is in the answer to q: listed, with the capabilities asked for, and for a
// mirror (signed) announced here: a mirror of a mirror would keep a node alive after its registry dropped it.
func (q listQuery) serves(r *Registry, rec *record, now time.Time) bool {
	return r.live(rec, now) && containsAll(rec.Capabilities, q.want) && (!q.signed || rec.Source == "")
}

// list answers GET /api/v1/peers: a listing (paged when asked) or the change feed.
func (r *Registry) list(w http.ResponseWriter, req *http.Request) {
	q, err := parseListQuery(req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	now := r.cfg.Now()
	r.mu.Lock()
	r.sweepExpired(now, false)
	etag := fmt.Sprintf(`W/"%s.%d"`, r.feed.epoch, r.feed.head)
	if match := req.Header.Get("If-None-Match"); match != "" && strings.Contains(match, etag) {
		r.mu.Unlock()
		w.Header().Set("ETag", etag)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	var ans map[string]any
	status := http.StatusOK
	if q.since != "" {
		ans, status = r.changesSince(q, now)
	} else {
		ans = r.listing(q, now)
	}
	r.mu.Unlock()
	w.Header().Set("ETag", etag)
	writeJSON(w, status, ans)
}

// listing is one page (or all) of the listed nodes in nodeId order; r.mu is held.
func (r *Registry) listing(q listQuery, now time.Time) map[string]any {
	f := &r.feed
	if f.sorted == nil {
		f.sorted = make([]string, 0, len(r.nodes))
		for id := range r.nodes {
			f.sorted = append(f.sorted, id)
		}
		sort.Strings(f.sorted)
	}
	start := 0
	if q.page != "" {
		start, _ = slices.BinarySearch(f.sorted, q.page)
		if start < len(f.sorted) && f.sorted[start] == q.page {
			start++
		}
	}
	peers, total, next := []wirePeer{}, 0, ""
	for i, id := range f.sorted {
		rec := r.nodes[id]
		if !q.serves(r, rec, now) {
			continue
		}
		total++
		if i < start {
			continue
		}
		if q.limit > 0 && len(peers) == q.limit {
			next = peers[len(peers)-1].NodeID
			continue
		}
		peers = append(peers, rec.wire(q.signed))
	}
	ans := map[string]any{"peers": peers, "total": total, "cursor": f.cursor(f.head), "networkPrefix": r.cfg.NetworkPrefix}
	if next != "" {
		ans["next"] = next
	}
	return ans
}

// changesSince is the change feed after q.since; r.mu is held.
func (r *Registry) changesSince(q listQuery, now time.Time) (map[string]any, int) {
	f := &r.feed
	epoch, n, ok := strings.Cut(q.since, ".")
	seq, err := strconv.ParseUint(n, 10, 64)
	switch {
	case !ok || err != nil || epoch != f.epoch:
		return map[string]any{"success": false, "error": fmt.Sprintf("since: %s is not a cursor of this registry (it restarted from empty, or the cursor is another registry's); list again without since", quoteShort(q.since))}, http.StatusGone
	case seq < f.floor || seq > f.head:
		return map[string]any{"success": false, "error": fmt.Sprintf("since: cursor %s is older than the changes this registry remembers; list again without since", quoteShort(q.since))}, http.StatusGone
	}
	i, _ := slices.BinarySearchFunc(f.changes, seq+1, func(c change, s uint64) int { return cmpUint(c.seq, s) })
	peers, removed, upto, more := []wirePeer{}, []string{}, f.head, false
	for ; i < len(f.changes); i++ {
		c := f.changes[i]
		rec := r.nodes[c.id]
		if rec == nil || rec.Seq != c.seq {
			continue // changed again later: reported there
		}
		if q.limit > 0 && len(peers)+len(removed) == q.limit {
			upto, more = f.changes[i-1].seq, true
			break
		}
		if q.serves(r, rec, now) {
			peers = append(peers, rec.wire(q.signed))
		} else {
			removed = append(removed, rec.NodeID)
		}
	}
	return map[string]any{"peers": peers, "removed": removed, "cursor": f.cursor(upto), "more": more}, http.StatusOK
}

// wirePeer is a listed node: the protocol's PeerInfo and, for mirrors that ask, what the node signed.
type wirePeer struct {
	PeerInfo
	Signed *SignedAnnouncement `json:"signed,omitempty"`
}

func (rec *record) wire(signed bool) wirePeer {
	p := wirePeer{PeerInfo: PeerInfo{
		NodeID: rec.NodeID, BTPEndpoint: rec.BTPEndpoint, ILPAddress: rec.ILPAddress,
		Capabilities: rec.Capabilities, LastSeen: rec.LastSeen, Version: rec.Version, PublicKey: rec.PublicKey,
	}}
	if p.Capabilities == nil {
		p.Capabilities = []string{}
	}
	if signed {
		p.Signed = rec.Signed
	}
	return p
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
