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

// newClock starts at the real time, so that a message signed by the real clock is within the registry's
// skew window until a test moves the clock.
func newClock() *clock { return &clock{t: time.Now().Truncate(time.Millisecond)} }

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
	if cfg.Now != nil {
		registryClocks.Store(srv.URL, cfg.Now)
		t.Cleanup(func() { registryClocks.Delete(srv.URL) })
	}
	return reg, srv.URL
}

// registryClocks maps a test registry's URL to its clock, so that a test node signs by the clock of the
// registry it talks to; lastSigned holds, per key, the last time a helper signed for, so that every
// message a helper signs is newer than the one before, as a real node's are.
var registryClocks, lastSigned sync.Map

// signingTime is the time a helper signs a message to base with key at.
func signingTime(base string, key ed25519.PrivateKey) time.Time {
	now := time.Now()
	if c, ok := registryClocks.Load(base); ok {
		now = c.(func() time.Time)()
	}
	now = now.Truncate(time.Millisecond) // a signed timestamp counts milliseconds
	k := string(key.Public().(ed25519.PublicKey))
	if last, ok := lastSigned.Load(k); ok && !now.After(last.(time.Time)) {
		now = last.(time.Time).Add(time.Millisecond)
	}
	lastSigned.Store(k, now)
	return now
}

type testNode struct {
	key  ed25519.PrivateKey
	info PeerInfo
}

func newTestNode(t testing.TB, id string) testNode {
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
		NodeID: id, BTPEndpoint: "ws://" + id + ".example:4000/", ILPAddress: OwnAddress(DefaultNetworkPrefix, id),
		Capabilities: []string{"evm-settlement"}, Version: "test",
	}}
}

func (n testNode) pub() ed25519.PublicKey { return n.key.Public().(ed25519.PublicKey) }

func (n testNode) body(t testing.TB) []byte {
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

// postAnnouncement posts body signed by key for the registry at base, dated by the registry's clock.
func postAnnouncement(t *testing.T, base string, body []byte, key ed25519.PrivateKey) (int, answer) {
	t.Helper()
	var at time.Time
	if key != nil {
		at = signingTime(base, key)
	}
	return postAnnouncementAt(t, base, body, key, at)
}

// postAnnouncementAt posts body signed by key for the registry at base, dated at.
func postAnnouncementAt(t *testing.T, base string, body []byte, key ed25519.PrivateKey, at time.Time) (int, answer) {
	t.Helper()
	return sendSigned(t, base, signedAnnouncement(base, body, key, at))
}

// signedMessage is a captured request: what an eavesdropper could replay byte for byte.
type signedMessage struct {
	method, path string
	body         []byte
	header       http.Header
}

func signedAnnouncement(base string, body []byte, key ed25519.PrivateKey, at time.Time) signedMessage {
	h := http.Header{}
	if key != nil {
		ts, sig := identity.SignMessage(key, identity.PurposeAnnounce, base, at, body)
		h.Set(HeaderPublicKey, identity.EncodePublicKey(key.Public().(ed25519.PublicKey)))
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
	}
	return signedMessage{http.MethodPost, announcePath, body, h}
}

func signedDelete(base, id string, key ed25519.PrivateKey, at time.Time) signedMessage {
	h := http.Header{}
	ts, sig := identity.SignMessage(key, identity.PurposeDelete, base, at, []byte(id))
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, sig)
	return signedMessage{http.MethodDelete, deletePath(id), nil, h}
}

// sendSigned sends m to the registry at base.
func sendSigned(t *testing.T, base string, m signedMessage) (int, answer) {
	t.Helper()
	req, _ := http.NewRequest(m.method, base+m.path, bytes.NewReader(m.body))
	for k, v := range m.header {
		req.Header[k] = v
	}
	return send(t, req)
}

// deleteNow sends DELETE /api/v1/peers/id signed by key, dated by the registry's clock.
func deleteNow(t *testing.T, base, id string, key ed25519.PrivateKey) (int, answer) {
	t.Helper()
	return deleteSigned(t, base, id, key, signingTime(base, key))
}

// deleteSigned sends DELETE /api/v1/peers/id signed by key at the given time.
func deleteSigned(t *testing.T, base, id string, key ed25519.PrivateKey, at time.Time) (int, answer) {
	t.Helper()
	return sendSigned(t, base, signedDelete(base, id, key, at))
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

func getJSONInto(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
