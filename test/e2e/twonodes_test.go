package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/ilp"
	"github.com/m2mnet/m2m/stack"

	"github.com/m2mnet/m2m/internal/testenv"
)

// Two nodes, each its own project on its own network, find each other through the registry that A runs
// (profile discovery), connect over BTP through their published ports, as nodes on two hosts would, and an ILP
// packet sent into A for B's address is fulfilled; both Prometheus instances count it.
func TestTwoNodesDiscoverEachOtherAndForwardAPacket(t *testing.T) {
	wallTime(t)
	gw := env.evm.Host
	// The announce addresses must be known before up, so these host ports are picked free here, not by Docker.
	btpA, btpB, registry := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	endpoint := fmt.Sprintf("http://%s:%d", gw, registry)
	node := func(btpPort int, extra map[string]string, profiles ...string) *project {
		// The nodes reach each other through the engine's gateway, a private address: both the connectors
		// and the registry need the private-network opt-in. The payment goes A → B, so B lets A, a peer it
		// found through discovery, owe it what it pays out for A.
		settings := map[string]string{settings.BTPPort: strconv.Itoa(btpPort), settings.DiscoveryPort: strconv.Itoa(registry),
			settings.PeerDiscoveryInterval: "2s", settings.PeerDiscoveryAllowPrivate: "true",
			settings.DiscoveredPeerCreditLimit: "1000000", settings.DiscoveredPeersCreditTotal: "1000000"}
		for k, v := range extra {
			settings[k] = v
		}
		return newProject(t, projectOptions{profiles: profiles, settings: settings,
			initArgs: []string{"--discovery", "on", "--discovery-endpoints", endpoint,
				"--announce-address", fmt.Sprintf("ws://%s:%d", gw, btpPort)}})
	}
	// A payer joins A and a payee joins B, each as a static child peer from its node's peers file in ./config
	// (/etc/m2m in the connector): ordinary BTP clients outside the containers, as an operator's apps would be.
	// Only the payee knows the preimage, so the Fulfill proves the packet crossed A → B → payee and back.
	payerToken, payeeToken := randomHex(16), randomHex(16)
	a := node(btpA, map[string]string{settings.PeersFile: stack.ContainerConfigDir + "/peers.yaml"}, stack.ProfileDiscovery)
	b := node(btpB, map[string]string{settings.PeersFile: stack.ContainerConfigDir + "/peers.yaml"})
	a.writeConfig("peers.yaml", childPeer("payer", payerToken, "g.m2m."+a.name+".payer"))
	b.writeConfig("peers.yaml", childPeer("payee", payeeToken, "g.m2m."+b.name+".payee"))
	a.up()
	b.up()
	a.requireHealthy(slices.Concat(running, []string{settings.ServiceDiscovery})...)
	b.requireHealthy(running...)

	eventually(t, 90*time.Second, "A and B discover each other and connect over BTP", func() error {
		for _, n := range []*project{a, b} {
			rep, _ := n.status()
			if rep.Connector == nil {
				return fmt.Errorf("%s: status shows no connector /health", n.name)
			}
			if p := rep.Connector.Peers; p.Discovered < 1 || p.Connected < 1 {
				return fmt.Errorf("%s: %d discovered, %d connected", n.name, p.Discovered, p.Connected)
			}
		}
		return nil
	})

	preimage := [32]byte{}
	rand.Read(preimage[:])
	condition := sha256.Sum256(preimage[:])
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	payee, err := btp.Dial(ctx, btp.DialConfig{URL: "ws://" + b.hostAddr(settings.ServiceConnector, "4000/tcp"), Token: payeeToken, PeerID: b.name,
		Session: btp.SessionConfig{Handler: btp.HandlerFunc(func(_ context.Context, _ string, packet []byte) []byte {
			p, err := ilp.DecodePrepare(packet)
			if err != nil || p.ExecutionCondition != condition {
				reject, _ := (&ilp.Reject{Code: ilp.F06UnexpectedPayment, TriggeredBy: "g.m2m." + b.name + ".payee"}).MarshalBinary()
				return reject
			}
			fulfill, _ := (&ilp.Fulfill{Fulfillment: preimage}).MarshalBinary()
			return fulfill
		})}})
	if err != nil {
		t.Fatalf("connect the payee to B over BTP: %v", err)
	}
	defer payee.Close()
	payer, err := btp.Dial(ctx, btp.DialConfig{URL: "ws://" + a.hostAddr(settings.ServiceConnector, "4000/tcp"), Token: payerToken, PeerID: a.name})
	if err != nil {
		t.Fatalf("connect the payer to A over BTP: %v", err)
	}
	defer payer.Close()

	prepare := &ilp.Prepare{Amount: 1000, ExpiresAt: time.Now().Add(30 * time.Second), ExecutionCondition: condition,
		Destination: "g.m2m." + b.name + ".payee.invoice-1", Data: []byte("m2m e2e")}
	packet, err := prepare.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// B registers the payee's session just after the handshake; until then a packet may find no route.
	var answer any
	eventually(t, 20*time.Second, "the payment from A's payer to B's payee is fulfilled", func() error {
		reply, err := payer.SendPrepare(ctx, packet)
		if err != nil {
			return fmt.Errorf("send the Prepare into A: %w", err)
		}
		if answer, err = ilp.Decode(reply); err != nil {
			return fmt.Errorf("A answered with no ILP packet: %v", err)
		}
		if r, ok := answer.(*ilp.Reject); ok {
			return fmt.Errorf("rejected: %s %q from %s", r.Code, r.Message, r.TriggeredBy)
		}
		return nil
	})
	f, ok := answer.(*ilp.Fulfill)
	if !ok || !ilp.Fulfills(f.Fulfillment, condition) {
		t.Fatalf("want a Fulfill whose fulfillment hashes to the condition, got %#v", answer)
	}

	// Traffic keeps flowing while the Prometheus instances are checked, so every rate has data in its window.
	stopTraffic := make(chan struct{})
	trafficDone := make(chan struct{})
	go func() {
		defer close(trafficDone)
		for {
			select {
			case <-stopTraffic:
				return
			case <-time.After(2 * time.Second):
				next := *prepare
				next.ExpiresAt = time.Now().Add(30 * time.Second)
				if b, err := next.MarshalBinary(); err == nil {
					payer.SendPrepare(ctx, b)
				}
			}
		}
	}()
	defer func() { close(stopTraffic); <-trafficDone }()
	for _, n := range []*project{a, b} {
		prom := "http://" + n.hostAddr(settings.ServicePrometheus, "9090/tcp")
		eventually(t, 90*time.Second, n.name+"'s Prometheus counts the fulfilled packet", func() error {
			// A rate needs two scrapes that saw the packet; the dashboards' core panels are rates.
			res, err := promQuery(prom, `sum(rate(m2m_packets_total{job="connector",result="fulfilled"}[1m])) > 0`)
			if err != nil {
				return err
			}
			if len(res) != 1 {
				return fmt.Errorf("rate of fulfilled m2m_packets_total not yet above 0: %v", res)
			}
			return nil
		})
		checkExpressions(t, prom, true)
	}
}

// childPeer is a peers file with one child peer.
func childPeer(id, token, prefix string) string {
	return fmt.Sprintf("peers:\n  - id: %s\n    authToken: %s\n    ilpPrefix: %s\n    relation: child\n    creditLimit: 1000000\n", id, token, prefix)
}

// writeConfig writes name into the project's ./config, which the connector reads at /etc/m2m. The connector
// runs as another user, so the file is world-readable (its token is this test's own).
func (p *project) writeConfig(name, body string) {
	p.t.Helper()
	dir := filepath.Join(p.dir, stack.ConfigDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		p.t.Fatal(err)
	}
}
