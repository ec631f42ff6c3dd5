package discovery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"
)

// The simulations behind docs/benchmarks.md (make bench-discovery); M2M_SIM=1 runs them.

func skipUnlessSim(t *testing.T) {
	if os.Getenv("M2M_SIM") == "" {
		t.Skip("a simulation; M2M_SIM=1 (make bench-discovery) runs it")
	}
}

// TestSimulateChangeFeedAt100kNodes runs an in-process registry on a simulated clock with 100,000 nodes that
// announce every 60 s, while 1% of the nodes leave (and expire) and 1% join per minute (M2M_SIM_CHURN_PERMILLE).
// A sample of 1,000 nodes (M2M_SIM_POLLERS) polls every 60 s with the change feed: every node would receive
// the same bytes, so the per-node figure is the sample's mean, and the total is that times the nodes. It
// compares them with the full listing that every poll fetched before.
func TestSimulateChangeFeedAt100kNodes(t *testing.T) {
	skipUnlessSim(t)
	nodes := envInt("M2M_SIM_NODES", 100000)
	minutes := envInt("M2M_SIM_MINUTES", 5)
	churn := nodes * envInt("M2M_SIM_CHURN_PERMILLE", 10) / 1000 // per minute, each way
	every := max(1, nodes/envInt("M2M_SIM_POLLERS", 1000))
	clk := newClock()
	reg, err := NewRegistry(RegistryConfig{DataDir: t.TempDir(), Now: clk.Now, MaxNodes: 4 * nodes, MaxPerClient: 1 << 30,
		ReadRate: 1e12, ReadBurst: 1 << 30, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()

	type simNode struct {
		info           PeerInfo
		key            string
		alive          bool
		cursor, etag   string
		offset, pollAt int
	}
	var all []*simNode
	caps := [][]string{{"evm-settlement"}, {"xrp-settlement"}, {"evm-settlement", "xrp-settlement"}}
	join := func(i int) *simNode {
		id := fmt.Sprintf("node-%06d", i)
		n := &simNode{info: PeerInfo{NodeID: id, BTPEndpoint: "wss://" + id + ".example.net:4000", ILPAddress: "g.m2m." + id,
			Capabilities: caps[i%3], Version: "0.3.0"}, key: fmt.Sprintf("%044d", i), alive: true, offset: i % 60, pollAt: (i * 7) % 60}
		all = append(all, n)
		return n
	}
	announce := func(n *simNode) {
		if st, msg, _ := reg.apply(n.info, n.key, nil, "", clk.Now(), clk.Now()); st != http.StatusOK {
			t.Fatalf("announce %s: %d %s", n.info.NodeID, st, msg)
		}
	}
	get := func(url, etag string) (status, bytes int, h http.Header, body []byte) {
		req := httptest.NewRequest(http.MethodGet, url, nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		w := httptest.NewRecorder()
		reg.ServeHTTP(w, req)
		hdr := len("HTTP/1.1 200 OK\r\n\r\n")
		for k, vs := range w.Header() {
			for _, v := range vs {
				hdr += len(k) + len(v) + 4
			}
		}
		return w.Code, hdr + w.Body.Len(), w.Header(), w.Body.Bytes()
	}

	for i := range nodes {
		announce(join(i))
	}
	_ = reg.journal.flush()
	clk.Advance(time.Second)
	_, fullBytes, h, body := get(peersPath, "")
	var first struct{ Cursor string }
	_ = json.Unmarshal(body, &first)
	for _, n := range all {
		n.cursor, n.etag = first.Cursor, h.Get("ETag")
	}
	t.Logf("%d nodes registered; one full listing is %.1f MB", nodes, float64(fullBytes)/1e6)

	var feedBytes, polls, notModified, joins, fullAtJoin, polled int
	start := time.Now()
	next := nodes
	for s := 0; s < minutes*60; s++ {
		for _, n := range all {
			if n.alive && n.offset == s%60 {
				announce(n)
			}
		}
		for range churn*(s+1)/60 - churn*s/60 {
			all[rand.IntN(len(all))].alive = false // leaves without a DELETE: it expires
			n := join(next)
			next++
			n.offset, n.pollAt = s%60, s%60
			announce(n)
			// Its first poll is the whole listing (paged or not): counted at its size, not encoded here.
			_, _, h, body := get(peersPath+"?limit=1", "")
			_ = json.Unmarshal(body, &first)
			n.cursor, n.etag = first.Cursor, h.Get("ETag")
			joins++
			fullAtJoin += fullBytes
		}
		for i, n := range all {
			if !n.alive || n.pollAt != s%60 || i%every != 0 || i >= nodes {
				continue
			}
			polled++
			for more := true; more; {
				code, b, h, body := get(peersPath+"?limit=1000&since="+n.cursor, n.etag)
				polls++
				feedBytes += b
				more = false
				switch code {
				case http.StatusNotModified:
					notModified++
				case http.StatusOK:
					// As the client does: the ETag is kept only from the last page of a poll. An ETag is
					// the registry's head, and sent with a cursor before the head it would get a 304 for
					// changes not yet read.
					cursor, m := feedHead(body)
					n.cursor, more = cursor, m
					if !m {
						n.etag = h.Get("ETag")
					}
				default:
					t.Fatalf("poll: %d %s", code, body)
				}
			}
		}
		clk.Advance(time.Second)
		if s%10 == 9 {
			reg.maintain()
		}
	}
	alive := 0
	for _, n := range all {
		if n.alive {
			alive++
		}
	}
	perNode := float64(feedBytes) / float64(polled) // one poll a minute
	perMin := perNode * float64(alive)
	fullPerMin := float64(alive) * float64(fullBytes)
	t.Logf("simulated %d min in %s: %d nodes listed at the end, %d sampled polls in %d requests (%.0f%% answered 304)",
		minutes, time.Since(start).Round(time.Second), alive, polled, polls, 100*float64(notModified)/float64(polls))
	t.Logf("change feed: %.0f bytes/min per node, %.1f MB/min for all nodes (+ %d joiners/min × %.1f MB first listing = %.0f MB/min)",
		perNode, perMin/1e6, joins/minutes, float64(fullAtJoin)/float64(joins)/1e6, float64(fullAtJoin)/float64(minutes)/1e6)
	t.Logf("full listing every poll: %.0f bytes/min per node, %.0f MB/min for all nodes; %.0f× the change feed's steady polls",
		float64(fullBytes), fullPerMin/1e6, fullPerMin/perMin)
}

// TestSimulatePeerSelectionAt10kNodes lets 10,000 nodes choose 8 peers each with the connector's own rule
// (pickPeers) and measures the connection graph: connected or not, diameter, degrees; then 10% of the
// nodes leave, the nodes that chose them choose replacements, and the graph is measured again.
func TestSimulatePeerSelectionAt10kNodes(t *testing.T) {
	skipUnlessSim(t)
	n := envInt("M2M_SIM_PEERS", 10000)
	const limit = 8
	for _, sc := range []struct {
		name string
		caps func(i int) []string
	}{
		{"all settle over EVM", func(int) []string { return []string{"evm-settlement"} }},
		{"45% EVM only, 45% XRP only, 10% both", func(i int) []string {
			switch {
			case i%20 < 9:
				return []string{"evm-settlement"}
			case i%20 < 18:
				return []string{"xrp-settlement"}
			}
			return []string{"evm-settlement", "xrp-settlement"}
		}},
	} {
		rng := rand.New(rand.NewPCG(1, 2))
		t0 := time.Unix(0, 0)
		caps := make([][]string, n)
		for i := range caps {
			caps[i] = sc.caps(i)
		}
		alive := make([]bool, n)
		for i := range alive {
			alive[i] = true
		}
		chosen := make([]map[int]bool, n)
		// One candidate list of the live nodes, shared by every node's choice: pickPeers is asked for
		// enough to skip the node itself and the peers it holds already.
		var cands []candidate
		var idx []int
		listAlive := func() {
			cands, idx = cands[:0], idx[:0]
			for j := range n {
				if alive[j] {
					cands = append(cands, candidate{caps: caps[j], firstSeen: t0})
					idx = append(idx, j)
				}
			}
		}
		refill := func(i int) {
			free := limit - len(chosen[i])
			for _, k := range pickPeers(cands, caps[i], free+len(chosen[i])+1, rng.Shuffle) {
				if j := idx[k]; j != i && !chosen[i][j] && free > 0 {
					chosen[i][j] = true
					free--
				}
			}
		}
		listAlive()
		for i := range n {
			chosen[i] = map[int]bool{}
			refill(i)
		}
		g := measureGraph(chosen, alive)
		t.Logf("%s, %d nodes, limit %d: %s", sc.name, n, limit, g)

		for _, i := range rng.Perm(n)[:n/10] {
			alive[i] = false
		}
		listAlive()
		for i := range n {
			if !alive[i] {
				continue
			}
			for j := range chosen[i] {
				if !alive[j] {
					delete(chosen[i], j)
				}
			}
			if len(chosen[i]) < limit {
				refill(i)
			}
		}
		t.Logf("%s, after 10%% left and were replaced: %s", sc.name, measureGraph(chosen, alive))
	}
}

// feedHead reads cursor and more, the first keys of a feed answer (maps encode in key order), without
// decoding the peers: the nodes' own decoding is not what the simulation measures.
func feedHead(body []byte) (cursor string, more bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	_, _ = dec.Token() // {
	for range 2 {
		k, _ := dec.Token()
		v, _ := dec.Token()
		switch k {
		case "cursor":
			cursor, _ = v.(string)
		case "more":
			more, _ = v.(bool)
		}
	}
	return cursor, more
}

type graphStats struct {
	components, diameter, maxDegree, maxInbound int
	meanDegree, meanDistance                    float64
}

func (g graphStats) String() string {
	return fmt.Sprintf("%d component(s), diameter %d, mean distance %.2f, degree mean %.1f max %d, most inbound %d",
		g.components, g.diameter, g.meanDistance, g.meanDegree, g.maxDegree, g.maxInbound)
}

// measureGraph treats each choice as an undirected edge (the chooser dials, the other accepts).
func measureGraph(chosen []map[int]bool, alive []bool) graphStats {
	n := len(chosen)
	adj := make([][]int, n)
	inbound := make([]int, n)
	for i, cs := range chosen {
		if !alive[i] {
			continue
		}
		for j := range cs {
			if !adj1(adj[i], j) {
				adj[i] = append(adj[i], j)
				adj[j] = append(adj[j], i)
			}
			inbound[j]++
		}
	}
	var g graphStats
	live, edges := 0, 0
	for i := range n {
		if alive[i] {
			live++
			edges += len(adj[i])
			g.maxDegree = max(g.maxDegree, len(adj[i]))
			g.maxInbound = max(g.maxInbound, inbound[i])
		}
	}
	g.meanDegree = float64(edges) / float64(live)
	dist := make([]int, n)
	queue := make([]int, 0, n)
	seen := make([]bool, n)
	var sum, pairs float64
	for src := range n {
		if !alive[src] {
			continue
		}
		if !seen[src] {
			g.components++
		}
		for i := range dist {
			dist[i] = -1
		}
		dist[src], queue = 0, append(queue[:0], src)
		for q := 0; q < len(queue); q++ {
			u := queue[q]
			seen[u] = true
			for _, v := range adj[u] {
				if dist[v] < 0 {
					dist[v] = dist[u] + 1
					g.diameter = max(g.diameter, dist[v])
					sum += float64(dist[v])
					pairs++
					queue = append(queue, v)
				}
			}
		}
	}
	g.meanDistance = sum / pairs
	return g
}

func adj1(list []int, j int) bool {
	for _, x := range list {
		if x == j {
			return true
		}
	}
	return false
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
