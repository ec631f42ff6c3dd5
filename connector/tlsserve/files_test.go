package tlsserve_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/tlsserve"
)

// testCA signs leaf certificates for localhost, as an operator's own CA (or certbot) would.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a certificate for localhost valid for validity, and its key, into dir.
func (ca *testCA) issue(t *testing.T, dir string, serial int64, validity time.Duration) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Minute),
		NotAfter: time.Now().Add(validity), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	// Key first, then the certificate: the certificate's change is what triggers a reload.
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func serveTLS(t *testing.T, cfg *tls.Config) int {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestFilesModeServesTheGivenCertificateAndPicksUpAReplacement(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.issue(t, dir, 100, 30*24*time.Hour)
	m, err := tlsserve.New(tlsserve.Config{Mode: tlsserve.Files, CertFile: certFile, KeyFile: keyFile, ReloadEvery: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	n := &btpNode{name: "localhost", port: serveTLS(t, m.ServerConfig())}
	leaf, err := handshake(t, n, pool(t, ca.pem))
	if err != nil {
		t.Fatalf("a client trusting the test CA: %v", err)
	}
	if leaf.SerialNumber.Int64() != 100 {
		t.Errorf("served serial %v; want 100", leaf.SerialNumber)
	}
	if detail, err := m.Check(context.Background()); err != nil || !strings.Contains(detail, "29 days left") {
		t.Errorf("Check = %q, %v; want 29 days left", detail, err)
	}
	if _, err := handshake(t, n, nil); !errors.As(err, new(x509.UnknownAuthorityError)) {
		t.Errorf("a client not trusting the test CA: %v; want an unknown-authority refusal", err)
	}

	ca.issue(t, dir, 101, 90*24*time.Hour) // renewed by another tool, in place
	deadline := time.Now().Add(10 * time.Second)
	for leaf.SerialNumber.Int64() != 101 {
		if time.Now().After(deadline) {
			t.Fatalf("still serving serial %v 10 s after the files were replaced", leaf.SerialNumber)
		}
		time.Sleep(20 * time.Millisecond) // mtime granularity: a rewrite within the same tick is not seen at once
		if leaf, err = handshake(t, n, pool(t, ca.pem)); err != nil {
			t.Fatal(err)
		}
	}
	if st := m.Status(); st.DaysLeft != 89 {
		t.Errorf("status after the replacement %+v; want 89 days left", st)
	}
}

func TestNewRefusesIncompleteConfigurationsWithTypedErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		cfg  tlsserve.Config
		want error
		text string
	}{
		{"acme without a domain", tlsserve.Config{Mode: tlsserve.ACME, DataDir: "/tmp", Port: 443}, tlsserve.ErrNoDomain, ""},
		{"acme without a data dir", tlsserve.Config{Mode: tlsserve.ACME, Domain: "node.example.com", Port: 443}, tlsserve.ErrNoDataDir, ""},
		{"files without a key", tlsserve.Config{Mode: tlsserve.Files, CertFile: bad}, tlsserve.ErrNoCertFiles, ""},
		{"files that are not PEM", tlsserve.Config{Mode: tlsserve.Files, CertFile: bad, KeyFile: bad}, nil, bad},
		{"an unknown mode", tlsserve.Config{Mode: "auto"}, tlsserve.ErrUnknownMode, `"auto"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tlsserve.New(tt.cfg)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("New = %v; want %v mentioning %q", err, tt.want, tt.text)
			}
		})
	}
	m, err := tlsserve.New(tlsserve.Config{Mode: tlsserve.Off})
	if err != nil || m.ServerConfig() != nil {
		t.Fatalf("off: %v, %v; want no TLS configuration", m.ServerConfig(), err)
	}
}
