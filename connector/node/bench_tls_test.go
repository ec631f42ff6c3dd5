package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/metrics"
	"github.com/m2mnet/m2m/connector/routing"
	"github.com/m2mnet/m2m/connector/tlsserve"
)

// BenchmarkILPForwardAToBOverWSS is BenchmarkILPForwardAToB at 64 senders with the A→B link over plain ws://
// and over wss:// (B's listener wrapped with tlsserve's configuration, as serve does), in one run, so that
// the two figures come from the same machine load.
func BenchmarkILPForwardAToBOverWSS(b *testing.B) {
	for _, scheme := range []string{"ws", "wss"} {
		b.Run("link="+scheme, func(b *testing.B) {
			benchForward(b, benchPairLink(b, scheme == "wss"), 64)
		})
	}
}

// benchPairLink is benchPair(b, false) with B served over TLS when secure.
func benchPairLink(b *testing.B, secure bool) sendFunc {
	b.Helper()
	ctx := context.Background()
	lim := btp.Limits{MaxInFlight: 4096}
	var server, client *tls.Config
	if secure {
		server, client = benchTLS(b)
	}
	nb, urlB := startBenchNodeLink(b, Config{Address: "test.b", BTP: lim, Peers: []routing.Peer{
		{ID: "a", AuthToken: "tok-ab", ILPPrefix: "test.a", Relation: routing.RelationPeer, CreditLimit: 1 << 62}}}, server)
	na, _ := startBenchNodeLink(b, Config{Address: "test.a", BTP: lim, DialTLS: client, Peers: []routing.Peer{
		{ID: "b", AuthToken: "tok-ab", ILPPrefix: "test.b", BTPURL: urlB, Relation: routing.RelationPeer, CreditLimit: 1 << 62}}}, nil)
	if _, err := nb.AttachLocal(ctx, routing.Peer{ID: "receiver", Relation: routing.RelationChild}, benchReceiver()); err != nil {
		b.Fatal(err)
	}
	l, err := na.AttachLocal(ctx, routing.Peer{ID: "sender", Relation: routing.RelationChild, CreditLimit: 1 << 62}, nil)
	if err != nil {
		b.Fatal(err)
	}
	waitConnected(b, na, "b", "sender")
	waitConnected(b, nb, "a", "receiver")
	return l.SendPrepare
}

func startBenchNodeLink(b *testing.B, cfg Config, server *tls.Config) (*Node, string) {
	b.Helper()
	n, err := New(cfg, ledger.NewMemory(), metrics.New("test", "test", "go"), nil)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	url := "ws://" + ln.Addr().String() + "/"
	if server != nil {
		ln, url = tls.NewListener(ln, server), "wss://"+ln.Addr().String()+"/"
	}
	go func() { _ = n.Serve(context.Background(), ln) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = n.Close(ctx)
	})
	if err := n.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	return n, url
}

// benchTLS makes a certificate for 127.0.0.1 (ECDSA P-256, what ACME CAs issue by default here) served
// through tlsserve's files mode, and a client configuration that trusts it.
func benchTLS(b *testing.B) (server, client *tls.Config) {
	b.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		b.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	dir := b.TempDir()
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if os.WriteFile(certFile, certPEM, 0o600) != nil || os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600) != nil {
		b.Fatal("write the benchmark's certificate")
	}
	m, err := tlsserve.New(tlsserve.Config{Mode: tlsserve.Files, CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return m.ServerConfig(), tlsserve.ClientConfig(pool)
}
