package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/connector/metrics"

	"github.com/m2mnet/m2m/internal/testenv"
)

// recordingSink is a real PeerSink that remembers what it was given; failFirst makes its first calls fail.
type recordingSink struct {
	mu        sync.Mutex
	got       map[string]Peer
	calls     int
	failFirst int
}

func (s *recordingSink) AddPeer(ctx context.Context, p Peer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls <= s.failFirst {
		return errors.New("connection refused (test)")
	}
	if s.got == nil {
		s.got = map[string]Peer{}
	}
	s.got[p.NodeID] = p
	return nil
}

func (s *recordingSink) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.got {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (s *recordingSink) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// logBuffer collects JSON log records for counting.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(level, msg string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for line := range strings.SplitSeq(b.buf.String(), "\n") {
		var rec struct{ Level, Msg string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Level == level && rec.Msg == msg {
			n++
		}
	}
	return n
}

func startClient(t *testing.T, ctx context.Context, cfg ClientConfig) (*Client, <-chan error) {
	t.Helper()
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return c, done
}

func TestThreeNodesFindEachOtherWithinTwoIntervals(t *testing.T) {
	const interval = 300 * time.Millisecond
	_, base := startRegistry(t, RegistryConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	names := []string{"alice", "bob", "carol"}
	nodes := map[string]testNode{}
	sinks := map[string]*recordingSink{}
	clients := map[string]*Client{}
	dones := map[string]<-chan error{}
	m := map[string]*metrics.Metrics{"alice": metrics.New("test", "test", "go")}
	var start time.Time
	for i, n := range names {
		if i > 0 {
			time.Sleep(interval / 3) // staggered, so that the first nodes' first fetch misses the later ones
		}
		start = time.Now()
		nodes[n] = newTestNode(t, n)
		sinks[n] = &recordingSink{}
		clients[n], dones[n] = startClient(t, ctx, ClientConfig{
			Endpoints: []string{base}, Self: nodes[n].info, Key: nodes[n].key, Sink: sinks[n], Interval: interval,
			Metrics: m[n],
		})
	}
	// Measured from the last node's start: within two announce intervals of it, everyone knows everyone.
	testenv.WaitFor(t, 30*time.Second, "every node connected to the two others", func() bool {
		for _, n := range names {
			if len(sinks[n].ids()) != 2 {
				return false
			}
		}
		return true
	})
	t.Logf("three nodes found each other %s after the last one started (announce interval %s)", time.Since(start).Round(time.Millisecond), interval)

	for _, n := range names {
		others := slices.DeleteFunc(slices.Clone(names), func(s string) bool { return s == n })
		if got := sinks[n].ids(); !slices.Equal(got, others) {
			t.Errorf("%s's sink got %v, want %v", n, got, others)
		}
		for _, o := range others {
			p := sinks[n].got[o]
			if p.BTPEndpoint != nodes[o].info.BTPEndpoint || p.ILPAddress != nodes[o].info.ILPAddress || !p.PublicKey.Equal(nodes[o].pub()) {
				t.Errorf("%s was given %+v for %s", n, p, o)
			}
		}
		if d, c := clients[n].Counts(); d != 2 || c != 2 {
			t.Errorf("%s Counts() = %d discovered, %d connected; want 2, 2", n, d, c)
		}
	}

	testenv.WaitFor(t, 30*time.Second, "alice's metrics updated", func() bool {
		return gauge(t, m["alice"], "m2m_peers", "state", "discovered") == 2 &&
			gauge(t, m["alice"], "m2m_dependency_up", "dependency", "discovery") == 1
	})

	// The keys the registry holds authenticate the BTP tokens between these peers.
	auth := clients["bob"].Authenticator(nil, nil)
	if id, err := auth(ctx, identity.NewToken(nodes["alice"].key, "alice", "bob", time.Minute)); err != nil || id != "alice" {
		t.Fatalf("bob authenticating alice: %q, %v", id, err)
	}
	if _, err := auth(ctx, identity.NewToken(nodes["alice"].key, "alice", "carol", time.Minute)); !errors.Is(err, identity.ErrWrongAudience) {
		t.Fatalf("bob accepted a token made for carol: %v", err)
	}
	stranger := newTestNode(t, "alice")
	if _, err := auth(ctx, identity.NewToken(stranger.key, "alice", "bob", time.Minute)); !errors.Is(err, identity.ErrBadSignature) {
		t.Fatalf("bob accepted alice's id signed by another key: %v", err)
	}

	cancel()
	for _, n := range names {
		select {
		case err := <-dones[n]:
			if err != nil {
				t.Errorf("%s Run: %v", n, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s Run did not return after cancel", n)
		}
	}
	if _, a := get(t, base+peersPath); len(a.Peers) != 0 {
		t.Fatalf("nodes did not deregister on shutdown: %v still listed", nodeIDs(a.Peers))
	}
}

func TestUnreachableRegistryWarnsOncePerOutage(t *testing.T) {
	reg, err := NewRegistry(RegistryConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	down.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			// An outage as the client sees it: the connection drops without an answer.
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()

	logs := &logBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	node := newTestNode(t, "alice")
	const interval = 30 * time.Millisecond
	c, done := startClient(t, ctx, ClientConfig{
		Endpoints: []string{srv.URL}, Self: node.info, Key: node.key, Sink: &recordingSink{}, Interval: interval,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	const unreachable, back = "discovery registry unreachable; static peers keep working, retrying every interval", "discovery registry reachable again"
	testenv.WaitFor(t, 30*time.Second, "six failed ticks", func() bool { return logs.count("DEBUG", "discovery registry still unreachable") >= 5 })
	if n := logs.count("WARN", unreachable); n != 1 {
		t.Fatalf("%d warnings during one outage, want 1", n)
	}
	down.Store(false)
	testenv.WaitFor(t, 30*time.Second, "recovery logged", func() bool { return logs.count("INFO", back) == 1 })
	down.Store(true)
	testenv.WaitFor(t, 30*time.Second, "second outage warned", func() bool { return logs.count("WARN", unreachable) == 2 })
	time.Sleep(5 * interval)
	if n := logs.count("WARN", unreachable); n != 2 {
		t.Fatalf("%d warnings over two outages, want 2", n)
	}
	if d, _ := c.Counts(); d != 0 {
		t.Fatalf("discovered %d peers from a registry that only knew us", d)
	}
	cancel()
	<-done
}

func TestConnectBacksOffGivesUpAndRetriesLater(t *testing.T) {
	_, base := startRegistry(t, RegistryConfig{})
	bob := newTestNode(t, "bob")
	bob.announce(t, base)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	alice := newTestNode(t, "alice")
	sink := &recordingSink{failFirst: 4} // two full rounds of two attempts fail, the third round connects
	c, done := startClient(t, ctx, ClientConfig{
		Endpoints: []string{base}, Self: alice.info, Key: alice.key, Sink: sink,
		Interval: 20 * time.Millisecond, ConnectAttempts: 2, BackoffMin: 10 * time.Millisecond,
		BackoffMax: 10 * time.Millisecond, RetryAfter: 400 * time.Millisecond,
	})
	testenv.WaitFor(t, 30*time.Second, "first round given up", func() bool { return sink.callCount() >= 2 })
	time.Sleep(100 * time.Millisecond) // inside RetryAfter: no new attempt
	if n := sink.callCount(); n != 2 {
		t.Fatalf("%d AddPeer calls before RetryAfter elapsed, want 2 (ConnectAttempts)", n)
	}
	if d, conn := c.Counts(); d != 1 || conn != 0 {
		t.Fatalf("Counts() = %d, %d while failing; want 1 discovered, 0 connected", d, conn)
	}
	testenv.WaitFor(t, 30*time.Second, "connected on the third round", func() bool { return len(sink.ids()) == 1 })
	if n := sink.callCount(); n != 5 {
		t.Fatalf("%d AddPeer calls, want 5", n)
	}
	if _, conn := c.Counts(); conn != 1 {
		t.Fatalf("connected = %d after AddPeer succeeded", conn)
	}
	time.Sleep(100 * time.Millisecond)
	if n := sink.callCount(); n != 5 {
		t.Fatalf("AddPeer called again for a connected peer: %d calls", n)
	}
	cancel()
	<-done
}

func TestMergeDedupesAcrossRegistriesNewestWins(t *testing.T) {
	early, late := newClock(), newClock()
	late.Advance(time.Minute)
	_, baseA := startRegistry(t, RegistryConfig{Now: early.Now})
	_, baseB := startRegistry(t, RegistryConfig{Now: late.Now})
	bob, carol := newTestNode(t, "bob"), newTestNode(t, "carol")
	bob.announce(t, baseA)
	carol.announce(t, baseA)
	moved := bob
	moved.info.BTPEndpoint = "wss://bob-new.example:4000"
	moved.announce(t, baseB) // same key, newer lastSeen, new endpoint

	alice := newTestNode(t, "alice")
	c, err := NewClient(ClientConfig{Endpoints: []string{baseA, baseB}, Self: alice.info, Key: alice.key, Sink: &recordingSink{}, Now: early.Now})
	if err != nil {
		t.Fatal(err)
	}
	c.sync(context.Background(), true)
	peers := c.Peers()
	slices.SortFunc(peers, func(a, b PeerInfo) int { return strings.Compare(a.NodeID, b.NodeID) })
	if got := nodeIDs(peers); !slices.Equal(got, []string{"bob", "carol"}) {
		t.Fatalf("merged view %v, want [bob carol] (without alice herself)", got)
	}
	if peers[0].BTPEndpoint != "wss://bob-new.example:4000" {
		t.Fatalf("bob's endpoint %s; the newer lastSeen should win", peers[0].BTPEndpoint)
	}

	// A registry that re-keys a known node is not believed.
	_, baseC := startRegistry(t, RegistryConfig{Now: late.Now})
	impostor := newTestNode(t, "carol")
	impostor.announce(t, baseC)
	c2, _ := NewClient(ClientConfig{Endpoints: []string{baseA, baseC}, Self: alice.info, Key: alice.key, Sink: &recordingSink{}})
	c2.sync(context.Background(), false)
	if k, ok := c2.KeyFor("carol"); !ok || !k.Equal(carol.pub()) {
		t.Fatalf("KeyFor(carol) is not carol's first-seen key")
	}
}

func TestAuthenticatorFetchesOnceForAnUnknownPeer(t *testing.T) {
	_, base := startRegistry(t, RegistryConfig{})
	alice, bob := newTestNode(t, "alice"), newTestNode(t, "bob")
	c, err := NewClient(ClientConfig{Endpoints: []string{base}, Self: bob.info, Key: bob.key, Sink: &recordingSink{}})
	if err != nil {
		t.Fatal(err)
	}
	auth := c.Authenticator(nil, nil)
	alice.announce(t, base) // alice registered after bob's last fetch (bob never fetched)
	if id, err := auth(context.Background(), identity.NewToken(alice.key, "alice", "bob", time.Minute)); err != nil || id != "alice" {
		t.Fatalf("token from a peer registered since the last fetch: %q, %v", id, err)
	}
	dave := newTestNode(t, "dave")
	if _, err := auth(context.Background(), identity.NewToken(dave.key, "dave", "bob", time.Minute)); !errors.Is(err, identity.ErrUnknownNode) {
		t.Fatalf("unregistered peer: %v, want ErrUnknownNode", err)
	}
}

func TestNewClientRefusesBadConfiguration(t *testing.T) {
	node := newTestNode(t, "alice")
	ok := ClientConfig{Endpoints: []string{"http://127.0.0.1:1"}, Self: node.info, Key: node.key, Sink: &recordingSink{}}
	tests := []struct {
		name string
		edit func(*ClientConfig)
		want string
	}{
		{"no endpoints", func(c *ClientConfig) { c.Endpoints = nil }, "PEER_DISCOVERY_ENDPOINTS"},
		{"ws endpoint", func(c *ClientConfig) { c.Endpoints = []string{"ws://x"} }, "http:// or https://"},
		{"no key", func(c *ClientConfig) { c.Key = nil }, "NODE_PRIVATE_KEY"},
		{"bad self", func(c *ClientConfig) { c.Self.ILPAddress = "nope" }, "ilpAddress"},
		{"no sink", func(c *ClientConfig) { c.Sink = nil }, "PeerSink"},
	}
	for _, tt := range tests {
		cfg := ok
		tt.edit(&cfg)
		if _, err := NewClient(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tt.name, err, tt.want)
		}
	}
	if _, err := NewClient(ok); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
}

// gauge reads one labelled gauge from the metrics registry, as Prometheus would scrape it (-1 if absent).
func gauge(t *testing.T, m *metrics.Metrics, name, label, value string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, metric := range mf.GetMetric() {
			for _, l := range metric.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return metric.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}
