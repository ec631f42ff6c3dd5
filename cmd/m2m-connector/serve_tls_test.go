package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/ilp"
	"github.com/m2mnet/m2m/connector/tlsserve"
	"github.com/m2mnet/m2m/internal/testenv"
	"github.com/m2mnet/m2m/test/standin/evmnode"
	"github.com/m2mnet/m2m/test/standin/pebble"
)

// The test domain: Pebble issues for it, its DNS answers 127.0.0.1 for it, and so does /etc/hosts here.
const tlsDomain = "localhost"

// writeFile writes a test file and returns its path.
func writeFile(t *testing.T, name string, data ...[]byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(strings.Join(func() []string {
		s := make([]string, len(data))
		for i, d := range data {
			s[i] = string(d)
		}
		return s
	}(), "")), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func rootsOf(t *testing.T, pems ...[]byte) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	for _, b := range pems {
		if !p.AppendCertsFromPEM(b) {
			t.Fatal("no certificate in PEM")
		}
	}
	return p
}

// acmeEnviron is a connector with BTP_TLS=acme for localhost on port, from the CA at dir.
func acmeEnviron(t *testing.T, port int, dir, caFile string) []string {
	return []string{"BTP_PORT=" + strconv.Itoa(port), "BTP_TLS=acme", "BTP_DOMAIN=" + tlsDomain, "ACME_CA=" + dir,
		"ACME_DATA_DIR=" + t.TempDir(), "TLS_CA_FILE=" + caFile, "ACME_EMAIL=ops@example.com"}
}

func TestConnectorWithACMEServesWSSAndAPeerTrustingTheCAForwardsAPacket(t *testing.T) {
	bin := buildConnector(t)
	rpc := evmnode.Start(t).URL
	portA, portB := testenv.FreePort(t), testenv.FreePort(t)
	ca := pebble.Start(t, pebble.Options{TLSPort: portA})
	bundle := writeFile(t, "ca.pem", ca.APICertPEM, ca.RootPEM) // to reach the ACME API, and to trust what it issues

	peersA := writeFile(t, "peers-a.yaml", []byte("peers:\n  - id: node-b\n    authToken: tok-b-3a9f\n    relation: peer\n    ilpPrefix: g.m2m.node-b\n"+
		"  - id: payee\n    authToken: tok-payee-77c1\n    relation: child\n"))
	peersB := writeFile(t, "peers-b.yaml", []byte("peers:\n  - id: node-a\n    btpUrl: wss://"+tlsDomain+":"+strconv.Itoa(portA)+"/\n"+
		"    authToken: tok-b-3a9f\n    relation: peer\n    ilpPrefix: g.m2m.node-a\n"+
		"  - id: payer\n    authToken: tok-payer-5d02\n    relation: child\n"))
	a := startConnector(t, bin, append(devEnviron(rpc), append(acmeEnviron(t, portA, ca.DirectoryURL, bundle),
		"NODE_ID=node-a", "PEERS_FILE="+peersA)...))
	waitStatus(t, a.base+"/health/ready", http.StatusOK, 60*time.Second)
	var h struct {
		Dependencies map[string]struct{ Status, Detail string } `json:"dependencies"`
	}
	getJSON(t, a.base+"/health", &h)
	if tl := h.Dependencies["tls"]; tl.Status != "up" || !strings.Contains(tl.Detail, "days left") {
		t.Errorf("/health tls = %+v; want up with the days left", tl)
	}
	if !metricsHave(t, a.base, "m2m_tls_renewal_failures_total 0") {
		t.Error("A counted failed certificate attempts")
	}
	b := startConnector(t, bin, append(devEnviron(rpc), "NODE_ID=node-b", "BTP_PORT="+strconv.Itoa(portB), "PEERS_FILE="+peersB,
		"TLS_CA_FILE="+bundle))
	waitStatus(t, b.base+"/health/ready", http.StatusOK, 10*time.Second)

	urlA := "wss://" + tlsDomain + ":" + strconv.Itoa(portA)
	if _, err := btp.Dial(t.Context(), btp.DialConfig{URL: urlA, Token: "tok-payee-77c1", PeerID: "node-a"}); !errors.As(err, new(x509.UnknownAuthorityError)) {
		t.Fatalf("a client that does not trust Pebble's root: %v; want an unknown-authority refusal", err)
	}
	preimage := sha256.Sum256([]byte("wss payment"))
	cond := sha256.Sum256(preimage[:])
	payee, err := btp.Dial(t.Context(), btp.DialConfig{URL: urlA, Token: "tok-payee-77c1", PeerID: "node-a",
		TLSConfig: tlsserve.ClientConfig(rootsOf(t, ca.RootPEM)),
		Session: btp.SessionConfig{Handler: btp.HandlerFunc(func(context.Context, string, []byte) []byte {
			f, _ := (&ilp.Fulfill{Fulfillment: preimage, Data: []byte("paid")}).MarshalBinary()
			return f
		})}})
	if err != nil {
		t.Fatalf("payee dial A over wss://: %v", err)
	}
	defer payee.Close()
	payer, err := btp.Dial(t.Context(), btp.DialConfig{URL: "ws://127.0.0.1:" + strconv.Itoa(portB), Token: "tok-payer-5d02", PeerID: "node-b"})
	if err != nil {
		t.Fatalf("payer dial B: %v", err)
	}
	defer payer.Close()
	prepare, _ := (&ilp.Prepare{Amount: 250, ExpiresAt: time.Now().Add(30 * time.Second), ExecutionCondition: cond,
		Destination: "g.m2m.node-a.payee.invoice-1"}).MarshalBinary()
	resp := sendUntilRouted(t, payer, prepare)
	if f, err := ilp.DecodeFulfill(resp); err != nil || f.Fulfillment != preimage {
		j, _ := ilp.DecodeReject(resp)
		t.Fatalf("payment B→A over wss:// not fulfilled: %s %s by %s\nB:\n%s", j.Code, j.Message, j.TriggeredBy, b.logs.text())
	}
	if !metricsHave(t, a.base, `m2m_packets_total{code="",result="fulfilled"} 1`) {
		t.Error("A did not count the packet B forwarded over wss://")
	}
}

func TestConnectorWithTheCADownIsNotReadyNamingTLSThenReadyWhenItComesBack(t *testing.T) {
	bin := buildConnector(t)
	port := testenv.FreePort(t)
	api, err := pebble.NewAPICert()
	if err != nil {
		t.Fatal(err)
	}
	caAddr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	bundle := writeFile(t, "ca.pem", api.PEM)
	p := startConnector(t, bin, append(devEnviron(evmnode.Start(t).URL), acmeEnviron(t, port, "https://"+caAddr+"/dir", bundle)...))
	testenv.WaitFor(t, 30*time.Second, "a log of the failed attempt to obtain a certificate", func() bool {
		return p.logs.find("could not obtain a TLS certificate; retrying") != nil
	})
	// The monitor checks the certificate every 2 s: wait for a check after the failed attempt.
	var h struct {
		Dependencies map[string]struct{ LastError string } `json:"dependencies"`
	}
	testenv.WaitFor(t, 10*time.Second, "/health tls lastError naming the refused connection to the CA", func() bool {
		getJSON(t, p.base+"/health", &h)
		return strings.Contains(h.Dependencies["tls"].LastError, "connection refused")
	})
	if e := h.Dependencies["tls"].LastError; !strings.Contains(e, "points to this host") {
		t.Errorf("/health tls lastError %q; want what to check", e)
	}
	var body struct{ Reasons []string }
	getJSON(t, p.base+"/health/ready", &body)
	if !strings.Contains(strings.Join(body.Reasons, " "), "tls") {
		t.Errorf("/health/ready reasons %q; want one naming tls", body.Reasons)
	}
	waitStatus(t, p.base+"/health/ready", http.StatusServiceUnavailable, time.Second)

	pebble.Start(t, pebble.Options{TLSPort: port, Addr: caAddr, APICert: api})
	waitStatus(t, p.base+"/health/ready", http.StatusOK, 60*time.Second)
	p.stop(t)
}

func TestRegistryServesHTTPSWithAnACMECertificateAndAConnectorAnnouncesToIt(t *testing.T) {
	bin := buildConnector(t)
	port := testenv.FreePort(t)
	ca := pebble.Start(t, pebble.Options{TLSPort: port})
	bundle := writeFile(t, "ca.pem", ca.APICertPEM, ca.RootPEM)
	registry := startTLSRegistry(t, bin, "--listen", "127.0.0.1:"+strconv.Itoa(port), "--data-dir", t.TempDir(),
		"--allow-private", "--tls", "acme", "--tls-domain", tlsDomain, "--acme-ca", ca.DirectoryURL, "--acme-data-dir", t.TempDir(), "--tls-ca-file", bundle)

	n := newPeeringNode(t, "node-c", "payer")
	n.start(t, bin, evmnode.Start(t).URL, registry, "TLS_CA_FILE="+bundle)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: rootsOf(t, ca.RootPEM)}}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var list struct{ Total int }
		resp, err := client.Get(registry + "/api/v1/peers")
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&list)
			resp.Body.Close()
			if list.Total == 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the registry at %s does not list the node after 60 s (last: %v)\n%s", registry, err, n.proc.logs.text())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := http.Get(registry + "/api/v1/peers"); !errors.As(err, new(x509.UnknownAuthorityError)) {
		t.Errorf("a client that does not trust Pebble's root: %v; want an unknown-authority refusal", err)
	}
}

// startTLSRegistry starts `discovery` with args and returns https://localhost:port once it logs its address.
func startTLSRegistry(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"discovery"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "discovery registry listening" {
				addr <- rec.Addr
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case a := <-addr:
		return "https://" + tlsDomain + a[strings.LastIndexByte(a, ':'):]
	case <-time.After(20 * time.Second):
		t.Fatal("discovery did not log its address within 20 s")
	}
	return ""
}
