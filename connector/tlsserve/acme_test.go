package tlsserve_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/ilp"
	"github.com/m2mnet/m2m/connector/metrics"
	"github.com/m2mnet/m2m/connector/tlsserve"
	"github.com/m2mnet/m2m/test/standin/pebble"
)

// Each node's name is its own (certmagic paces renewal retries per name in package state, so one test's
// failed renewal, a CA stopped at its cleanup, would hold back the next test's): a random name under
// localhost, which Pebble accepts and its challenge server resolves to 127.0.0.1. Clients dial 127.0.0.1
// and check the certificate against the name.
func nodeName() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "n" + hex.EncodeToString(b) + ".localhost"
}

// btpNode is a TLS listener serving BTP with a Manager's configuration, as the connector wires it.
type btpNode struct {
	name    string // the certificate's domain
	m       *tlsserve.Manager
	metrics *metrics.Metrics
	port    int
	url     string
}

// fulfillAll answers every Prepare with a Fulfill: enough to see a packet travel the session.
var fulfillAll = btp.HandlerFunc(func(context.Context, string, []byte) []byte {
	b, _ := (&ilp.Fulfill{Data: []byte("ok")}).MarshalBinary()
	return b
})

// startACMENode binds a port, lets configure build the Manager's settings for it (Pebble needs the port
// before it starts), and serves BTP on it over TLS while the Manager runs.
func startACMENode(t *testing.T, configure func(port int) tlsserve.Config) *btpNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	cfg := configure(port)
	mt := metrics.New("test", "test", "go")
	name := nodeName()
	cfg.Domain, cfg.Metrics, cfg.ListenHost, cfg.Port = name, mt, "127.0.0.1", port
	m, err := tlsserve.New(cfg)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	srv := &http.Server{Handler: btp.NewServer(btp.ServerConfig{
		Authenticate: func(_ context.Context, token string) (string, error) {
			if token != "secret" {
				return "", errors.New("unknown token")
			}
			return "peer", nil
		},
		Session: btp.SessionConfig{Handler: fulfillAll},
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(tls.NewListener(ln, m.ServerConfig()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
		m.Close()
	})
	return &btpNode{name: name, m: m, metrics: mt, port: port, url: "wss://127.0.0.1:" + strconv.Itoa(port)}
}

func pool(t *testing.T, pems ...[]byte) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	for _, b := range pems {
		if !p.AppendCertsFromPEM(b) {
			t.Fatal("no certificate in PEM")
		}
	}
	return p
}

// waitValid waits for the Manager to serve a valid certificate whose serial differs from not (nil: any).
func waitValid(t *testing.T, m *tlsserve.Manager, within time.Duration, not *tlsserve.Status) tlsserve.Status {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := m.Status()
		if st.Valid && (not == nil || !st.NotAfter.Equal(not.NotAfter)) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("no (new) valid certificate after %s: %+v", within, st)
		}
		time.Sleep(50 * time.Millisecond) // the Manager's status changes inside certmagic; nothing to wait on
	}
}

// handshake connects to the node, asking for its name, and returns the leaf it presented.
func handshake(t *testing.T, n *btpNode, roots *x509.CertPool) (*x509.Certificate, error) {
	t.Helper()
	d := &tls.Dialer{Config: &tls.Config{RootCAs: roots, ServerName: n.name}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(n.port))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}

func dialBTP(t *testing.T, n *btpNode, roots *x509.CertPool) (*btp.Session, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := tlsserve.ClientConfig(roots)
	c.ServerName = n.name
	return btp.Dial(ctx, btp.DialConfig{URL: n.url, Token: "secret", PeerID: "node", TLSConfig: c})
}

func sendPacket(t *testing.T, s *btp.Session) {
	t.Helper()
	p := ilp.Prepare{Amount: 1, ExpiresAt: time.Now().Add(30 * time.Second), ExecutionCondition: sha256.Sum256(nil), Destination: "g.test.peer"}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reply, err := s.SendPrepare(ctx, b)
	if err != nil {
		t.Fatalf("send a packet on the session: %v", err)
	}
	if _, err := ilp.DecodeFulfill(reply); err != nil {
		t.Fatalf("reply is not the Fulfill: %v", err)
	}
}

func TestACMEObtainsACertificateViaTLSALPNAndPeersTrustingTheCAConnect(t *testing.T) {
	var ca *pebble.Server
	n := startACMENode(t, func(port int) tlsserve.Config {
		ca = pebble.Start(t, pebble.Options{TLSPort: port})
		return tlsserve.Config{Mode: tlsserve.ACME, CA: ca.DirectoryURL, Roots: pool(t, ca.APICertPEM), DataDir: t.TempDir()}
	})
	st := waitValid(t, n.m, 60*time.Second, nil)
	if st.DaysLeft < 80 || st.LastError != "" {
		t.Errorf("status %+v; want ~90 days left (Pebble's default) and no error", st)
	}
	if got := testutil.ToFloat64(n.metrics.TLSCertExpiry); got != float64(st.NotAfter.Unix()) {
		t.Errorf("expiry metric %v; want %d", got, st.NotAfter.Unix())
	}
	trusting := pool(t, ca.RootPEM)
	leaf, err := handshake(t, n, trusting)
	if err != nil {
		t.Fatalf("a client trusting Pebble's root: %v", err)
	}
	if leaf.Issuer.CommonName == leaf.Subject.CommonName || !strings.Contains(strings.Join(leaf.DNSNames, ","), n.name) {
		t.Errorf("served certificate %v issued by %v; want one for %s issued by Pebble", leaf.DNSNames, leaf.Issuer, n.name)
	}
	s, err := dialBTP(t, n, trusting)
	if err != nil {
		t.Fatalf("BTP over wss:// trusting Pebble's root: %v", err)
	}
	defer s.Close()
	sendPacket(t, s)

	_, err = dialBTP(t, n, nil) // the system's roots only
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("a client not trusting Pebble's root: err %v; want an unknown-authority refusal", err)
	}
	if detail, err := n.m.Check(context.Background()); err != nil || !strings.Contains(detail, "days left") {
		t.Errorf("Check = %q, %v; want the expiry and no error", detail, err)
	}
}

func TestACMERenewsAShortLivedCertificateWithoutDroppingTheOpenSession(t *testing.T) {
	var ca *pebble.Server
	n := startACMENode(t, func(port int) tlsserve.Config {
		ca = pebble.Start(t, pebble.Options{TLSPort: port, Validity: 40 * time.Second})
		return tlsserve.Config{Mode: tlsserve.ACME, CA: ca.DirectoryURL, Roots: pool(t, ca.APICertPEM), DataDir: t.TempDir()}
	})
	first := waitValid(t, n.m, 60*time.Second, nil)
	roots := pool(t, ca.RootPEM)
	s, err := dialBTP(t, n, roots)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sendPacket(t, s)

	second := waitValid(t, n.m, 40*time.Second, &first)
	leaf, err := handshake(t, n, roots)
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.NotAfter.Equal(second.NotAfter) || !second.NotAfter.After(first.NotAfter) {
		t.Errorf("a new handshake got a certificate expiring %v; want the renewed one (%v, after %v)", leaf.NotAfter, second.NotAfter, first.NotAfter)
	}
	select {
	case <-s.Done():
		t.Fatalf("the BTP session opened before the renewal ended: %v", s.Err())
	default:
	}
	sendPacket(t, s) // the same session, after the renewal
	t.Logf("renewed: expiry %s → %s without a restart; the session opened before still forwards",
		first.NotAfter.Format(time.TimeOnly), second.NotAfter.Format(time.TimeOnly))
}

func TestACMEWithTheCADownAtStartFailsClearlyThenRecoversWithoutARestart(t *testing.T) {
	api, err := pebble.NewAPICert()
	if err != nil {
		t.Fatal(err)
	}
	caAddr := freeAddr(t)
	var port int
	n := startACMENode(t, func(p int) tlsserve.Config {
		port = p
		return tlsserve.Config{Mode: tlsserve.ACME, CA: "https://" + caAddr + "/dir", Roots: pool(t, api.PEM), DataDir: t.TempDir()}
	})
	waitFailure(t, n, "with the CA down")
	_, err = n.m.Check(context.Background())
	if !errors.Is(err, tlsserve.ErrNoCertificate) || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), n.name) {
		t.Fatalf("Check with the CA down = %v; want no certificate, naming the domain and the refused connection", err)
	}
	if _, err := handshake(t, n, nil); err == nil {
		t.Fatal("a handshake succeeded without any certificate")
	}

	pebble.Start(t, pebble.Options{TLSPort: port, Addr: caAddr, APICert: api})
	st := waitValid(t, n.m, 60*time.Second, nil)
	if _, err := n.m.Check(context.Background()); err != nil || st.LastError != "" {
		t.Errorf("after the CA came back: Check %v, status %+v; want healthy", err, st)
	}
}

// waitFailure waits (30 s at most) until the node counts a failed attempt to obtain or renew.
func waitFailure(t *testing.T, n *btpNode, when string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for testutil.ToFloat64(n.metrics.TLSRenewalFailures) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no failed attempt recorded within 30 s %s: %+v", when, n.m.Status())
		}
		time.Sleep(50 * time.Millisecond) // certmagic reports attempts through OnEvent; nothing to wait on here
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestACMEKeepsServingTheValidCertificateWhileRenewalFails(t *testing.T) {
	var ca *pebble.Server
	n := startACMENode(t, func(port int) tlsserve.Config {
		ca = pebble.Start(t, pebble.Options{TLSPort: port, Validity: 30 * time.Second})
		return tlsserve.Config{Mode: tlsserve.ACME, CA: ca.DirectoryURL, Roots: pool(t, ca.APICertPEM), DataDir: t.TempDir()}
	})
	first := waitValid(t, n.m, 60*time.Second, nil)
	roots := pool(t, ca.RootPEM)
	ca.Stop() // every renewal attempt from now on is refused
	waitFailure(t, n, "after the CA stopped")
	st := n.m.Status()
	if !st.Valid || !st.NotAfter.Equal(first.NotAfter) || !strings.Contains(st.LastError, "renewal") {
		t.Fatalf("status while renewal fails: %+v; want the first certificate (until %v), still valid, with the renewal error", st, first.NotAfter)
	}
	leaf, err := handshake(t, n, roots)
	if err != nil {
		t.Fatalf("a handshake while renewal fails: %v", err)
	}
	if !leaf.NotAfter.Equal(first.NotAfter) {
		t.Errorf("served a certificate until %v; want the one obtained (until %v)", leaf.NotAfter, first.NotAfter)
	}
	detail, err := n.m.Check(context.Background())
	if err != nil || !strings.Contains(detail, "renewal failing") {
		t.Errorf("Check while renewal fails = %q, %v; want healthy, naming the renewal failure", detail, err)
	}
}
