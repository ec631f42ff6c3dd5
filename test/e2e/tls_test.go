package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/ilp"
	"github.com/m2mnet/m2m/internal/testenv"
	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
	"github.com/m2mnet/m2m/test/standin/pebble"
)

// Node A runs the stack with BTP_TLS=acme and obtains its certificate from a Pebble container (its binary built
// here from the Go module, in an image FROM scratch like the connector's): Pebble resolves A's name through a
// DNS server of this test that answers with the engine's gateway, and validates TLS-ALPN-01 on A's published
// BTP_TLS_PORT, as a public CA validates port 443. Node B (BTP_TLS=off) trusts Pebble's root (TLS_CA_FILE) and
// peers with A over wss:// by name — a network alias on B's network stands in for the public DNS record — and a
// packet from B's payer is fulfilled by A's payee over that link. A client that does not trust the root is refused.
func TestTwoNodesPeerOverWSSWithACertificateFromAnACMEContainer(t *testing.T) {
	wallTime(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	gw := env.evm.Host
	tlsPort := testenv.FreePort(t) // A's BTP_TLS_PORT: Pebble's validation port must be known before it starts
	ca := startPebbleContainer(ctx, t, gw, tlsPort)

	payerToken, payeeToken, linkToken := randomHex(16), randomHex(16), randomHex(16)
	peers := stack.ContainerConfigDir + "/peers.yaml"
	a := newProject(t, projectOptions{settings: map[string]string{settings.BTPTLS: "acme", settings.BTPTLSPort: strconv.Itoa(tlsPort),
		settings.ACMECA: ca.directory, settings.ACMEEmail: "ops@example.com", settings.TLSCAFile: stack.ContainerConfigDir + "/acme-ca.pem",
		settings.PeersFile: peers}})
	domain := a.name + ".m2m.test"
	a.set(map[string]string{settings.BTPDomain: domain})
	b := newProject(t, projectOptions{settings: map[string]string{settings.TLSCAFile: stack.ContainerConfigDir + "/pebble-root.pem",
		settings.PeersFile: peers}})
	a.writeConfig("acme-ca.pem", string(ca.apiCertPEM))
	b.writeConfig("pebble-root.pem", string(ca.rootPEM))
	a.writeConfig("peers.yaml", childPeer("payee", payeeToken, "g.m2m."+a.name+".payee")+
		fmt.Sprintf("  - id: %s\n    authToken: %s\n    relation: peer\n    ilpPrefix: g.m2m.%s\n", b.name, linkToken, b.name))
	b.writeConfig("peers.yaml", childPeer("payer", payerToken, "g.m2m."+b.name+".payer")+
		fmt.Sprintf("  - id: %s\n    btpUrl: wss://%s:%d/\n    authToken: %s\n    relation: peer\n    ilpPrefix: g.m2m.%s\n",
			a.name, domain, stack.ContainerBTPPort, linkToken, a.name))

	a.up() // healthy only with a certificate: readiness gates on it
	rep := a.requireHealthy(running...)
	if tl := rep.Connector.Dependencies["tls"]; tl.Status != "up" {
		t.Fatalf("A's /health tls: %+v; want up", tl)
	}
	b.up()
	b.requireHealthy(running...)
	aliasOnNetworkOf(ctx, t, a, b, domain)

	eventually(t, 90*time.Second, "B connects to A over wss:// by name", func() error {
		rep, _ := b.status()
		if rep.Connector == nil || rep.Connector.Peers.Connected < 1 {
			return fmt.Errorf("B: %+v", rep.Connector)
		}
		return nil
	})

	// From the host, A's BTP port is 127.0.0.1:<published>; the name is given for the certificate check.
	urlA := "wss://" + a.hostAddr(settings.ServiceConnector, "4000/tcp") + "/"
	trusting := &tls.Config{RootCAs: x509.NewCertPool(), ServerName: domain, MinVersion: tls.VersionTLS12}
	if !trusting.RootCAs.AppendCertsFromPEM(ca.rootPEM) {
		t.Fatal("Pebble's root is no PEM certificate")
	}
	dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
	defer dcancel()
	_, err := btp.Dial(dctx, btp.DialConfig{URL: urlA, Token: payeeToken, PeerID: a.name,
		TLSConfig: &tls.Config{ServerName: domain, MinVersion: tls.VersionTLS12}})
	if !errors.As(err, new(x509.UnknownAuthorityError)) {
		t.Fatalf("a client that does not trust Pebble's root: %v; want an unknown-authority refusal", err)
	}
	preimage := [32]byte{}
	rand.Read(preimage[:])
	condition := sha256.Sum256(preimage[:])
	payee, err := btp.Dial(dctx, btp.DialConfig{URL: urlA, Token: payeeToken, PeerID: a.name, TLSConfig: trusting,
		Session: btp.SessionConfig{Handler: btp.HandlerFunc(func(context.Context, string, []byte) []byte {
			f, _ := (&ilp.Fulfill{Fulfillment: preimage}).MarshalBinary()
			return f
		})}})
	if err != nil {
		t.Fatalf("the payee dials A over wss:// trusting Pebble's root: %v", err)
	}
	defer payee.Close()
	payer, err := btp.Dial(dctx, btp.DialConfig{URL: "ws://" + b.hostAddr(settings.ServiceConnector, "4000/tcp"), Token: payerToken, PeerID: b.name})
	if err != nil {
		t.Fatalf("the payer dials B: %v", err)
	}
	defer payer.Close()
	packet, err := (&ilp.Prepare{Amount: 1000, ExpiresAt: time.Now().Add(30 * time.Second), ExecutionCondition: condition,
		Destination: "g.m2m." + a.name + ".payee.invoice-1"}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the payment from B's payer to A's payee over wss:// is fulfilled", func() error {
		reply, err := payer.SendPrepare(dctx, packet)
		if err != nil {
			return err
		}
		if f, err := ilp.DecodeFulfill(reply); err == nil && f.Fulfillment == preimage {
			return nil
		}
		r, _ := ilp.DecodeReject(reply)
		return fmt.Errorf("rejected: %s %q by %s", r.Code, r.Message, r.TriggeredBy)
	})
}

// pebbleContainer is a running Pebble: its ACME directory as containers reach it, and the PEMs to trust.
type pebbleContainer struct {
	directory  string // https://<gateway>:<published>/dir
	apiCertPEM []byte // the ACME endpoint's certificate (trust it to reach the directory)
	rootPEM    []byte // the root of what it issues
}

// startPebbleContainer builds Pebble from its Go module into an image FROM scratch and runs it with its
// validation port at tlsPort and its DNS at a server of this test on gw that answers every name with gw.
func startPebbleContainer(ctx context.Context, t *testing.T, gw string, tlsPort int) pebbleContainer {
	t.Helper()
	api, err := pebble.NewAPICert(gw)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "pebble")
	if err := env.goBuild(ctx, bin, "github.com/letsencrypt/pebble/v2/cmd/pebble", []string{"CGO_ENABLED=0"}, "-ldflags", "-s -w"); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
		"certificate": "/cert.pem", "privateKey": "/key.pem", "httpPort": 5002, "tlsPort": tlsPort,
		"keyAlgorithm": "ecdsa", "profiles": map[string]any{"default": map[string]any{"description": "e2e", "validityPeriod": 7776000}}}})
	tag := "m2me2e-" + env.runID + "/pebble:" + randomHex(3)
	df := "FROM scratch\nCOPY pebble /pebble\nCOPY config.json cert.pem key.pem /\nENTRYPOINT [\"/pebble\", \"-config\", \"/config.json\"]\n"
	if err := buildContext(ctx, env.cli, tag, map[string][]byte{"Dockerfile": []byte(df), "pebble": body, "config.json": cfg,
		"cert.pem": api.PEM, "key.pem": api.KeyPEM}, nil, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		env.cli.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
	dns := pebble.StartDNS(t, gw, gw)
	c, err := testcontainers.Run(ctx, tag, testcontainers.WithLogger(tclog.TestLogger(t)),
		testcontainers.WithLabels(map[string]string{labelHelper: "pebble-" + env.runID}),
		testcontainers.WithEnv(map[string]string{"PEBBLE_VA_NOSLEEP": "1"}),
		testcontainers.WithCmdArgs("-dnsserver", dns),
		testcontainers.WithExposedPorts("14000/tcp", "15000/tcp"),
		testcontainers.WithWaitStrategy(wait.ForLog("ACME directory available at").WithStartupTimeout(time.Minute)))
	testcontainers.CleanupContainer(t, c)
	if err != nil {
		t.Fatalf("run the Pebble container: %v", err)
	}
	acmePort, err := c.MappedPort(ctx, "14000/tcp")
	if err != nil {
		t.Fatal(err)
	}
	mgmtPort, err := c.MappedPort(ctx, "15000/tcp")
	if err != nil {
		t.Fatal(err)
	}
	pc := pebbleContainer{directory: fmt.Sprintf("https://%s:%d/dir", gw, acmePort.Num()), apiCertPEM: api.PEM}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(api.PEM)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	eventually(t, 30*time.Second, "Pebble's management interface gives its root", func() error {
		resp, err := hc.Get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", mgmtPort.Num()))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if pc.rootPEM, err = io.ReadAll(resp.Body); err != nil || resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d, %v", resp.StatusCode, err)
		}
		return nil
	})
	return pc
}

// aliasOnNetworkOf attaches a's connector to b's network under name — b's DNS record of a — and detaches it
// before b's network is removed.
func aliasOnNetworkOf(ctx context.Context, t *testing.T, a, b *project, name string) {
	t.Helper()
	obs, err := b.observe(ctx)
	if err != nil || len(obs.Networks) != 1 {
		t.Fatalf("observe %s's network: %d networks, %v", b.name, len(obs.Networks), err)
	}
	var netName string
	for n := range obs.Networks {
		netName = n
	}
	id := a.container(settings.ServiceConnector).ID
	if _, err := env.cli.NetworkConnect(ctx, netName, client.NetworkConnectOptions{Container: id,
		EndpointConfig: &network.EndpointSettings{Aliases: []string{name}}}); err != nil {
		t.Fatalf("attach %s's connector to %s as %s: %v", a.name, netName, name, err)
	}
	t.Cleanup(func() {
		env.cli.NetworkDisconnect(context.Background(), netName, client.NetworkDisconnectOptions{Container: id, Force: true})
	})
}
