package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/connector/ilp"

	"github.com/m2mnet/m2m/internal/testenv"

	"github.com/m2mnet/m2m/test/standin/evmnode"
)

// peeringNode is one connector of the pair: its settings and what the test needs to reach it.
type peeringNode struct {
	id, nodeKey, btpURL string
	child, childToken   string // the BTP child in its peers file: the payer at A, the payee at B
	proc                *connectorProcess
}

func newPeeringNode(t *testing.T, id, child string) *peeringNode {
	t.Helper()
	enc, _, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return &peeringNode{id: id, nodeKey: enc, btpURL: "ws://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)),
		child: child, childToken: "tok-" + child + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
}

func (n *peeringNode) start(t *testing.T, bin, rpcURL, registry string, extraEnv ...string) {
	t.Helper()
	peersFile := filepath.Join(t.TempDir(), "peers.yaml")
	doc := fmt.Sprintf("peers:\n  - id: %s\n    authToken: %s\n    relation: child\n    creditLimit: 1000000\n", n.child, n.childToken)
	if err := os.WriteFile(peersFile, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	port := n.btpURL[strings.LastIndexByte(n.btpURL, ':')+1:]
	env := append(devEnviron(rpcURL), "NODE_ID="+n.id, "NODE_PRIVATE_KEY="+n.nodeKey, "BTP_PORT="+port, "PEERS_FILE="+peersFile,
		"PEER_DISCOVERY_ENABLED=true", "PEER_DISCOVERY_ENDPOINTS="+registry, "PEER_ANNOUNCE_ADDRESS="+n.btpURL,
		"PEER_DISCOVERY_INTERVAL=1s", "LOG_LEVEL=info", "PEER_DISCOVERY_ALLOW_PRIVATE=true",
		// The payment goes A→B: at B, A is a discovered peer that owes B what B pays out for it.
		"DISCOVERED_PEER_CREDIT_LIMIT=1000", "DISCOVERED_PEERS_CREDIT_TOTAL=1000")
	n.proc = startConnector(t, bin, append(env, extraEnv...))
}

type healthPeers struct {
	Status string `json:"status"`
	Peers  struct {
		Connected  int `json:"connected"`
		Discovered int `json:"discovered"`
	} `json:"peers"`
}

func TestTwoConnectorsFindEachOtherThroughTheRegistryAndForwardAPayment(t *testing.T) {
	bin := buildConnector(t)
	// Both connectors live on 127.0.0.1: the private-network opt-in, at the registry and the connectors.
	registry, stopRegistry := startDiscoveryProcess(t, bin, t.TempDir(), "--allow-private")
	defer stopRegistry()
	rpc := evmnode.Start(t).URL
	// A stand-in OTLP/HTTP collector: it counts the trace exports each connector posts.
	var mu sync.Mutex
	exports := map[string]int{}
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		exports[r.URL.Path+" "+r.Header.Get("Content-Type")]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()

	a := newPeeringNode(t, "node-a", "payer")
	b := newPeeringNode(t, "node-b", "payee")
	a.start(t, bin, rpc, registry, "OTEL_EXPORTER_OTLP_ENDPOINT="+collector.URL)
	b.start(t, bin, rpc, registry)
	started := time.Now()

	// Before the children connect, a connected peer can only be the other node, found through the registry.
	for _, n := range []*peeringNode{a, b} {
		// A generous cap: the event is usually seconds away, but a loaded machine can take much longer.
		deadline := time.Now().Add(30 * time.Second)
		var h healthPeers
		for getJSON(t, n.proc.base+"/health", &h); h.Peers.Connected < 1 || h.Peers.Discovered != 1; getJSON(t, n.proc.base+"/health", &h) {
			if time.Now().After(deadline) {
				t.Fatalf("%s /health peers = %+v after 30 s; want discovered 1, connected ≥ 1\n%s", n.id, h.Peers, n.proc.logs.text())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if h.Status != "healthy" {
			t.Errorf("%s /health status %q with its discovered peer connected", n.id, h.Status)
		}
		if !metricsHave(t, n.proc.base, `m2m_peers{state="discovered"} 1`) {
			t.Errorf(`%s /metrics lacks m2m_peers{state="discovered"} 1`, n.id)
		}
	}
	t.Logf("both connectors peered over BTP %s after start (announce interval 1 s)", time.Since(started).Round(time.Millisecond))

	// A signed token from a node the registry does not know is refused, as is a guessed shared token.
	strangerEnc, _, _ := identity.GenerateKey()
	stranger, _ := identity.ParsePrivateKey(strangerEnc)
	for name, tok := range map[string]string{"unknown signer": identity.NewToken(stranger, "node-x", "node-a", time.Minute), "guessed token": "tok-guess"} {
		if _, err := btp.Dial(t.Context(), btp.DialConfig{URL: a.btpURL, Token: tok, PeerID: "node-a"}); !errors.Is(err, btp.ErrAuthRejected) {
			t.Errorf("%s: dial A: %v; want ErrAuthRejected", name, err)
		}
	}

	// The payee knows the preimage; the connectors only ever see its hash.
	preimage := sha256.Sum256([]byte("payment " + b.childToken))
	cond := sha256.Sum256(preimage[:])
	payee, err := btp.Dial(t.Context(), btp.DialConfig{URL: b.btpURL, Token: b.childToken, PeerID: "node-b",
		Session: btp.SessionConfig{Handler: btp.HandlerFunc(func(_ context.Context, _ string, raw []byte) []byte {
			p, err := ilp.DecodePrepare(raw)
			if err != nil || p.ExecutionCondition != cond {
				r, _ := (&ilp.Reject{Code: ilp.F05WrongCondition, TriggeredBy: "g.m2m.node-b.payee"}).MarshalBinary()
				return r
			}
			f, _ := (&ilp.Fulfill{Fulfillment: preimage, Data: []byte("paid")}).MarshalBinary()
			return f
		})}})
	if err != nil {
		t.Fatalf("payee dial B: %v", err)
	}
	defer payee.Close()
	payer, err := btp.Dial(t.Context(), btp.DialConfig{URL: a.btpURL, Token: a.childToken, PeerID: "node-a"})
	if err != nil {
		t.Fatalf("payer dial A: %v", err)
	}
	defer payer.Close()

	prepare, _ := (&ilp.Prepare{Amount: 250, ExpiresAt: time.Now().Add(30 * time.Second), ExecutionCondition: cond,
		Destination: "g.m2m.node-b.payee.invoice-1"}).MarshalBinary()
	resp := sendUntilRouted(t, payer, prepare)
	f, err := ilp.DecodeFulfill(resp)
	if err != nil {
		j, _ := ilp.DecodeReject(resp)
		t.Fatalf("payment A→B not fulfilled: %s %s by %s", j.Code, j.Message, j.TriggeredBy)
	}
	if f.Fulfillment != preimage || string(f.Data) != "paid" {
		t.Fatalf("fulfill changed on the way: %+v", f)
	}
	for _, n := range []*peeringNode{a, b} {
		if !metricsHave(t, n.proc.base, `m2m_packets_total{code="",result="fulfilled"} 1`) {
			t.Errorf("%s did not count one fulfilled packet", n.id)
		}
	}

	// Stopping deregisters (signed DELETE): the registry lists nobody once both are gone.
	a.proc.stop(t)
	b.proc.stop(t)
	var list struct {
		Total int `json:"total"`
	}
	getJSON(t, registry+"/api/v1/peers", &list)
	if list.Total != 0 {
		t.Errorf("registry still lists %d nodes after both stopped", list.Total)
	}
	mu.Lock()
	if n := exports["/v1/traces application/x-protobuf"]; n < 1 {
		t.Errorf("A, with OTEL_EXPORTER_OTLP_ENDPOINT set, exported no traces by the time it stopped: %v", exports)
	}
	mu.Unlock()
	for _, n := range []*peeringNode{a, b} {
		out := n.proc.logs.text() + n.proc.stderr.String()
		for what, secret := range map[string]string{"NODE_PRIVATE_KEY": n.nodeKey, "child token": n.childToken} {
			if strings.Contains(out, secret) {
				t.Errorf("%s output shows its %s", n.id, what)
			}
		}
		if n.proc.logs.find("deregistered from discovery registry") == nil {
			t.Errorf("%s did not log its deregistration", n.id)
		}
	}
}

// sendUntilRouted sends prepare, again while the answer is T01/F02 (the payee's session is registered at B
// just after its handshake completes), for at most 5 s.
func sendUntilRouted(t *testing.T, s *btp.Session, prepare []byte) []byte {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := s.SendPrepare(t.Context(), prepare)
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		j, err := ilp.DecodeReject(resp)
		if err != nil || (j.Code != ilp.T01PeerUnreachable && j.Code != ilp.F02Unreachable) || time.Now().After(deadline) {
			return resp
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func metricsHave(t *testing.T, base, line string) bool {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return strings.Contains(string(body), line+"\n")
}

func TestServeWithAnUnreachableRegistryWarnsOnceAndStaysReady(t *testing.T) {
	t.Parallel()
	bin := buildConnector(t)
	n := newPeeringNode(t, "node-lonely", "payer")
	n.start(t, bin, evmnode.Start(t).URL, "http://127.0.0.1:"+strconv.Itoa(testenv.FreePort(t)))
	waitStatus(t, n.proc.base+"/health/ready", http.StatusOK, 5*time.Second)
	time.Sleep(3500 * time.Millisecond) // three more announce intervals against the dead registry
	waitStatus(t, n.proc.base+"/health/ready", http.StatusOK, time.Second)
	if !metricsHave(t, n.proc.base, `m2m_dependency_up{dependency="discovery"} 0`) {
		t.Error(`/metrics lacks m2m_dependency_up{dependency="discovery"} 0`)
	}
	n.proc.stop(t)
	warnings := strings.Count(n.proc.logs.text(), `"msg":"discovery registry unreachable; static peers keep working, retrying every interval"`)
	if warnings != 1 {
		t.Errorf("%d unreachable-registry warnings over four intervals, want 1:\n%s", warnings, n.proc.logs.text())
	}
}
