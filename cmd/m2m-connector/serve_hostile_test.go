package main

import (
	"crypto/ed25519"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/discovery"
	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/internal/testenv"
	"github.com/m2mnet/m2m/test/standin/evmnode"
)

// countingListener accepts TCP connections on 127.0.0.1, counts them and closes them: where a discovered
// peer's BTP endpoint points, it tells whether the connector dialled that peer.
func countingListener(t *testing.T) (url string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = &atomic.Int64{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	return "ws://" + ln.Addr().String() + "/", accepted
}

// hostileRegistryStandin is a stand-in for a registry that lies: it accepts every announcement and lists
// peers, whatever they claim, with a key of their own each.
func hostileRegistryStandin(t *testing.T, peers []discovery.PeerInfo) (url string, listings *atomic.Int64) {
	t.Helper()
	for i := range peers {
		peers[i].PublicKey = identity.EncodePublicKey(genKey(t).Public().(ed25519.PublicKey))
		peers[i].Capabilities, peers[i].Version = []string{"evm-settlement"}, "x"
	}
	listings = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/api/v1/peers/announce":
			json.NewEncoder(w).Encode(map[string]any{"success": true, "ttl": 120})
		case r.URL.Path == "/api/v1/peers" && r.Method == http.MethodGet:
			for i := range peers {
				peers[i].LastSeen = time.Now().UnixMilli()
			}
			json.NewEncoder(w).Encode(map[string]any{"peers": peers, "total": len(peers), "networkPrefix": "g"})
			listings.Add(1)
		case strings.HasPrefix(r.URL.Path, "/api/v1/peers/") && r.Method == http.MethodDelete:
			json.NewEncoder(w).Encode(map[string]any{"success": true})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, listings
}

// count is how many log lines have message msg and attribute key equal to value.
func (l *logLines) count(msg, key, value string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if line["msg"] == msg && line[key] == value {
			n++
		}
	}
	return n
}

// TestConnectorFedByAHostileRegistryDialsNoHijacker runs the real connector against a registry stand-in that
// lists peers claiming this node's address, the network's prefix, addresses under this node's or under a
// static peer's prefix, or another network's: the connector dials none of them (so no route can lead to
// them) and dials the one honest peer listed beside them. The private-network opt-in is on, so that only the
// address checks stand between the connector and the hijackers' loopback endpoints.
func TestConnectorFedByAHostileRegistryDialsNoHijacker(t *testing.T) {
	t.Parallel()
	bin := buildConnector(t)
	attackerURL, attacker := countingListener(t)
	honestURL, honest := countingListener(t)
	const self = "node-h"
	hijacks := []struct{ id, addr string }{
		{"m1", "g.m2m." + self},            // this node's own address
		{"m2", "g.m2m"},                    // the network prefix: covers every node
		{"m3", "g.m2m." + self + ".payer"}, // under this node's address (its child's)
		{"m4", "g.m2m.carol"},              // a static peer's prefix
		{"m5", "g.m2m.carol.shop"},         // under a static peer's prefix
		{"carol", "g.m2m.carol"},           // the static peer's own id and address, under another key
		{"m6", "g.m6"},                     // its own id under another prefix
	}
	var listed []discovery.PeerInfo
	for _, h := range hijacks {
		listed = append(listed, discovery.PeerInfo{NodeID: h.id, ILPAddress: h.addr, BTPEndpoint: attackerURL})
	}
	listed = append(listed, discovery.PeerInfo{NodeID: "honest", ILPAddress: "g.m2m.honest", BTPEndpoint: honestURL})
	registry, listings := hostileRegistryStandin(t, listed)

	peersFile := filepath.Join(t.TempDir(), "peers.yaml")
	doc := "peers:\n" +
		"  - {id: payer, authToken: tok-payer-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ", relation: child}\n" +
		"  - {id: carol, authToken: tok-carol-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ", relation: peer, ilpPrefix: g.m2m.carol}\n"
	if err := os.WriteFile(peersFile, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	enc, _, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	proc := startConnector(t, bin, append(devEnviron(evmnode.Start(t).URL), "NODE_ID="+self, "NODE_PRIVATE_KEY="+enc,
		"BTP_PORT="+strconv.Itoa(testenv.FreePort(t)), "PEERS_FILE="+peersFile, "LOG_LEVEL=info",
		"PEER_DISCOVERY_ENABLED=true", "PEER_DISCOVERY_ENDPOINTS="+registry, "PEER_ANNOUNCE_ADDRESS=ws://127.0.0.1:1/",
		"PEER_DISCOVERY_INTERVAL=1s", "PEER_DISCOVERY_ALLOW_PRIVATE=true"))
	defer proc.stop(t)

	testenv.WaitFor(t, 30*time.Second, "the connector dials the honest peer", func() bool { return honest.Load() > 0 })
	// Three more listings: a hijacker would have been chosen and dialled by now (8 places, 7 listed).
	after := listings.Load()
	testenv.WaitFor(t, 30*time.Second, "three more listings", func() bool { return listings.Load() >= after+3 })
	if n := attacker.Load(); n != 0 {
		t.Fatalf("the connector dialled the hijackers' endpoint %d times\n%s", n, proc.logs.text())
	}
	var h healthPeers
	getJSON(t, proc.base+"/health", &h)
	if h.Peers.Discovered != 1 {
		t.Errorf("/health peers.discovered = %d, want 1 (the honest peer only)", h.Peers.Discovered)
	}
	for _, hj := range hijacks {
		if n := proc.logs.count("ignoring discovered peer", "peer", hj.id); n != 1 {
			t.Errorf("%s (%s) logged %d times as ignored, want once over several listings", hj.id, hj.addr, n)
		}
	}
}
