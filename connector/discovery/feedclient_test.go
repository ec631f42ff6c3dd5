package discovery

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/identity"
)

// seenRequest is one GET the registry answered: its query, whether it carried If-None-Match, the status.
type seenRequest struct {
	limit, cursor, since string
	ifNoneMatch          bool
	status               int
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

// TestClientListsInPagesOnceThenFollowsTheFeed serves 1,500 nodes: the client's first poll lists them in
// pages of 1,000, every later poll asks only for changes since its cursor (304 when there is none), and the
// view follows a node that joins and one that expires.
func TestClientListsInPagesOnceThenFollowsTheFeed(t *testing.T) {
	clk := newClock()
	reg, err := NewRegistry(RegistryConfig{DataDir: t.TempDir(), Now: clk.Now, TTL: 30 * time.Second, MaxNodes: 5000,
		MaxPerClient: 5000, ReadBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	var mu sync.Mutex
	var seen []seenRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		reg.ServeHTTP(rec, r)
		q := r.URL.Query()
		mu.Lock()
		seen = append(seen, seenRequest{q.Get("limit"), q.Get("cursor"), q.Get("since"), r.Header.Get("If-None-Match") != "", rec.status})
		mu.Unlock()
	}))
	defer srv.Close()
	requests := func() []seenRequest {
		mu.Lock()
		defer mu.Unlock()
		s := seen
		seen = nil
		return s
	}

	var nodes []PeerInfo
	join := func(i int) PeerInfo {
		n := newTestNode(t, fmt.Sprintf("node-%04d", i))
		if st, msg, _ := reg.apply(n.info, identity.EncodePublicKey(n.pub()), nil, "", clk.Now(), clk.Now()); st != http.StatusOK {
			t.Fatalf("register %s: %d %s", n.info.NodeID, st, msg)
		}
		return n.info
	}
	for i := range 1500 {
		nodes = append(nodes, join(i))
	}
	alice := newTestNode(t, "alice")
	c, err := NewClient(ClientConfig{Endpoints: []string{srv.URL}, Self: alice.info, Key: alice.key, Sink: &recordingSink{}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	viewHas := func(want int, id string) bool {
		ids := nodeIDs(c.Peers())
		return len(ids) == want && (id == "" || slices.Contains(ids, id))
	}

	c.sync(ctx, false)
	first := requests()
	if len(first) != 2 || first[0].limit != "1000" || first[0].since != "" || first[1].cursor == "" || first[1].since != "" || !viewHas(1500, "") {
		t.Fatalf("first poll: %+v, view %d; want two pages of 1,000 and 1,500 peers", first, len(c.Peers()))
	}

	c.sync(ctx, false)
	if r := requests(); len(r) != 1 || r[0].since == "" || !r[0].ifNoneMatch || r[0].status != http.StatusNotModified {
		t.Fatalf("poll with nothing changed: %+v, want one GET since the cursor with If-None-Match, answered 304", r)
	}

	newcomer := join(1500)
	c.sync(ctx, false)
	if r := requests(); len(r) != 1 || r[0].since == "" || r[0].status != http.StatusOK || !viewHas(1501, newcomer.NodeID) {
		t.Fatalf("poll after %s joined: %+v, view %d", newcomer.NodeID, r, len(c.Peers()))
	}

	// Every node but node-0000 announces again; after 2×TTL node-0000 expires and the feed removes it.
	clk.Advance(40 * time.Second)
	for _, n := range append(nodes[1:], newcomer) {
		reg.apply(n, keyOf(reg, n.NodeID), nil, "", clk.Now(), clk.Now())
	}
	clk.Advance(25 * time.Second)
	c.sync(ctx, false)
	if r := requests(); len(r) != 1 || r[0].since == "" || r[0].status != http.StatusOK || !viewHas(1500, "") || slices.Contains(nodeIDs(c.Peers()), "node-0000") {
		t.Fatalf("poll after node-0000 expired: %+v, view %d, has node-0000: %v", r, len(c.Peers()), slices.Contains(nodeIDs(c.Peers()), "node-0000"))
	}
}

// keyOf is the public key the registry holds for id.
func keyOf(reg *Registry, id string) string {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.nodes[id].PublicKey
}
