package discovery

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/identity"
)

// clock is a controllable time source for TTL and rate-limit tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// startRegistry serves a registry over real HTTP on 127.0.0.1.
func startRegistry(t *testing.T, cfg RegistryConfig) (*Registry, string) {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	reg, err := NewRegistry(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	return reg, srv.URL
}

type testNode struct {
	key  ed25519.PrivateKey
	info PeerInfo
}

func newTestNode(t *testing.T, id string) testNode {
	t.Helper()
	enc, _, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := identity.ParsePrivateKey(enc)
	if err != nil {
		t.Fatal(err)
	}
	return testNode{key: key, info: PeerInfo{
		NodeID: id, BTPEndpoint: "ws://127.0.0.1:4000/" + id, ILPAddress: "test.m2m." + id,
		Capabilities: []string{"evm-settlement"}, Version: "test",
	}}
}

func (n testNode) pub() ed25519.PublicKey { return n.key.Public().(ed25519.PublicKey) }

func (n testNode) body(t *testing.T) []byte {
	t.Helper()
	b, err := json.Marshal(n.info)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// announce posts n's announcement signed with its own key.
func (n testNode) announce(t *testing.T, base string) (int, answer) {
	t.Helper()
	return postAnnouncement(t, base, n.body(t), n.key)
}

func postAnnouncement(t *testing.T, base string, body []byte, key ed25519.PrivateKey) (int, answer) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+announcePath, bytes.NewReader(body))
	if key != nil {
		req.Header.Set(HeaderPublicKey, identity.EncodePublicKey(key.Public().(ed25519.PublicKey)))
		req.Header.Set(HeaderSignature, identity.SignBody(key, body))
	}
	return send(t, req)
}

// deleteSigned sends DELETE /api/v1/peers/id signed by key at the given time.
func deleteSigned(t *testing.T, base, id string, key ed25519.PrivateKey, at time.Time) (int, answer) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, base+deletePath(id), nil)
	ts, sig := identity.SignRequest(key, http.MethodDelete, deletePath(id), at)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, sig)
	return send(t, req)
}

// answer is any registry answer: success/ttl/error, or the peer list.
type answer struct {
	Success *bool      `json:"success"`
	TTL     int        `json:"ttl"`
	Error   string     `json:"error"`
	Peers   []PeerInfo `json:"peers"`
	Total   *int       `json:"total"`
	Status  string     `json:"status"`
	header  http.Header
}

func send(t *testing.T, req *http.Request) (int, answer) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s %s: answer %q is not JSON: %v", req.Method, req.URL.Path, b, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", req.Method, req.URL.Path, ct)
	}
	a.header = resp.Header
	return resp.StatusCode, a
}

func get(t *testing.T, url string) (int, answer) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	return send(t, req)
}

func nodeIDs(peers []PeerInfo) []string {
	var ids []string
	for _, p := range peers {
		ids = append(ids, p.NodeID)
	}
	return ids
}
