package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/discovery"
	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/internal/testenv"
	"github.com/m2mnet/m2m/test/standin/evmnode"
)

// btpPeer is a discovered node on 127.0.0.1: a BTP server that accepts the connector's signed tokens and
// keeps track of its open sessions, announced to the registry with its own key.
type btpPeer struct {
	id, url string
	key     ed25519.PrivateKey
	srv     *http.Server
	mu      sync.Mutex
	open    int
}

func startBTPPeer(t *testing.T, id string, connector string, connectorKey ed25519.PublicKey) *btpPeer {
	t.Helper()
	p := &btpPeer{id: id, key: genKey(t)}
	keyFor := func(nodeID string) (ed25519.PublicKey, bool) { return connectorKey, nodeID == connector }
	bs := btp.NewServer(btp.ServerConfig{
		Authenticate: func(_ context.Context, token string) (string, error) {
			return identity.VerifyToken(token, id, time.Now(), keyFor)
		},
		OnSession: func(s *btp.Session) {
			p.mu.Lock()
			p.open++
			p.mu.Unlock()
			go func() {
				<-s.Done()
				p.mu.Lock()
				p.open--
				p.mu.Unlock()
			}()
		},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.url = "ws://" + ln.Addr().String() + "/"
	p.srv = &http.Server{Handler: bs}
	go p.srv.Serve(ln)
	t.Cleanup(func() { p.srv.Close() })
	return p
}

func (p *btpPeer) sessions() int { p.mu.Lock(); defer p.mu.Unlock(); return p.open }

// signed sends a request to the registry at base signed by p's key.
func (p *btpPeer) signed(t *testing.T, base, method, path, purpose string, body []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
	ts, sig := identity.SignMessage(p.key, purpose, base, time.Now(), body)
	req.Header.Set(discovery.HeaderPublicKey, identity.EncodePublicKey(p.key.Public().(ed25519.PublicKey)))
	req.Header.Set(discovery.HeaderTimestamp, ts)
	req.Header.Set(discovery.HeaderSignature, sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s for %s: %d", method, path, p.id, resp.StatusCode)
	}
}

// TestConnectorHoldsEightOfFiftyDiscoveredPeersAndReplacesOneThatLeaves runs the registry and the connector
// binaries with 50 discovered BTP peers, 10 of which settle like the connector (EVM): with
// PEER_DISCOVERY_MAX_PEERS=8 the connector holds exactly 8 sessions, all with EVM peers, and when one of them
// deregisters and goes away it opens a session with another.
func TestConnectorHoldsEightOfFiftyDiscoveredPeersAndReplacesOneThatLeaves(t *testing.T) {
	t.Parallel()
	bin := buildConnector(t)
	registry, stopRegistry := startDiscoveryProcess(t, bin, filepath.Join(t.TempDir(), "data"),
		"--allow-private", "--max-per-client", "100", "--rate-burst", "200")
	defer stopRegistry()

	const self = "node-max"
	enc, pub, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	var peers []*btpPeer
	for i := range 50 {
		p := startBTPPeer(t, fmt.Sprintf("peer-%02d", i), self, ed25519.PublicKey(pub))
		caps := []string{"xrp-settlement"}
		if i%5 == 0 {
			caps = []string{"evm-settlement"} // 10 of 50 share the connector's settlement
		}
		body, _ := json.Marshal(discovery.PeerInfo{NodeID: p.id, BTPEndpoint: p.url, ILPAddress: "g.m2m." + p.id, Capabilities: caps, Version: "1"})
		p.signed(t, registry, http.MethodPost, "/api/v1/peers/announce", identity.PurposeAnnounce, body)
		peers = append(peers, p)
	}
	connected := func() (ids []string) {
		for _, p := range peers {
			if n := p.sessions(); n > 0 {
				ids = append(ids, p.id)
			}
		}
		return ids
	}
	evm := func(ids []string) bool {
		for _, id := range ids {
			if n, _ := strconv.Atoi(id[len("peer-"):]); n%5 != 0 {
				return false
			}
		}
		return true
	}

	// The connector reaches the registry through a proxy that counts its polls.
	target, _ := url.Parse(registry)
	var polls atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/api/v1/peers" {
			defer polls.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()

	proc := startConnector(t, bin, append(devEnviron(evmnode.Start(t).URL), "NODE_ID="+self, "NODE_PRIVATE_KEY="+enc,
		"BTP_PORT="+strconv.Itoa(testenv.FreePort(t)), "LOG_LEVEL=info", "PEER_DISCOVERY_ENABLED=true",
		"PEER_DISCOVERY_ENDPOINTS="+proxy.URL, "PEER_ANNOUNCE_ADDRESS=ws://127.0.0.1:1/", "PEER_DISCOVERY_INTERVAL=1s",
		"PEER_DISCOVERY_ALLOW_PRIVATE=true", "PEER_DISCOVERY_MAX_PEERS=8"))
	defer proc.stop(t)

	testenv.WaitFor(t, 30*time.Second, "8 sessions with discovered peers", func() bool { return len(connected()) == 8 })
	first := connected()
	// Three more announce intervals: the connector reports the 50 it knows and still holds exactly 8.
	after := polls.Load()
	testenv.WaitFor(t, 30*time.Second, "three more polls", func() bool { return polls.Load() >= after+3 })
	if now := connected(); !slices.Equal(now, first) || !evm(now) {
		t.Fatalf("held %v, then %v; want the same 8, all settling over EVM", first, now)
	}
	var h healthPeers
	getJSON(t, proc.base+"/health", &h)
	if h.Peers.Discovered != 50 || h.Peers.Connected != 8 {
		t.Fatalf("/health peers %+v, want 50 discovered, 8 connected", h.Peers)
	}

	// One of the 8 deregisters and goes away; its place goes to another EVM peer.
	var gone *btpPeer
	for _, p := range peers {
		if p.id == first[3] {
			gone = p
		}
	}
	gone.signed(t, registry, http.MethodDelete, "/api/v1/peers/"+gone.id, identity.PurposeDelete, []byte(gone.id))
	gone.srv.Close()
	testenv.WaitFor(t, 30*time.Second, "8 sessions again without "+gone.id, func() bool {
		now := connected()
		return len(now) == 8 && !slices.Contains(now, gone.id)
	})
	if now := connected(); !evm(now) {
		t.Fatalf("after %s left the connector holds %v; want 8 EVM peers", gone.id, now)
	}
}
