// Package pebble runs Let's Encrypt's ACME test server, Pebble, inside a test process, with its challenge test
// server answering DNS for every name with 127.0.0.1: a stand-in for a public certificate authority that really
// validates TLS-ALPN-01 against the server under test.
package pebble

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/letsencrypt/challtestsrv"
	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// Options configure one Pebble.
type Options struct {
	// TLSPort is the port Pebble connects to on 127.0.0.1 to validate TLS-ALPN-01: the listener under test.
	TLSPort int
	// Addr is where the ACME directory is served (127.0.0.1:port); "" picks a free port. Give the address of a
	// stopped Pebble to bring "the CA" back where a client already looks for it.
	Addr string
	// Validity is the lifetime of issued certificates (whole seconds); 0 is Pebble's default (90 days).
	Validity time.Duration
	// APICert is the ACME endpoint's own certificate (from NewAPICert); nil makes one. Give one to trust the
	// endpoint before it starts (a client started while "the CA is down").
	APICert *APICert
	// Log receives Pebble's and the challenge server's logs; nil discards them.
	Log io.Writer
}

// APICert is the ACME endpoint's self-signed certificate, for 127.0.0.1, localhost and the extra hosts given.
type APICert struct {
	cert   tls.Certificate
	PEM    []byte // trust this to reach the directory
	KeyPEM []byte // its private key, for a Pebble run as a program (its "privateKey" file)
}

// Server is a running Pebble.
type Server struct {
	// DirectoryURL is the ACME directory, https://127.0.0.1:port/dir.
	DirectoryURL string
	// Addr is the directory's host:port.
	Addr string
	// APICertPEM is the self-signed certificate of the ACME endpoint itself: trust it to reach DirectoryURL.
	APICertPEM []byte
	// RootPEM is the root that issued certificates chain to: trust it to accept a server's certificate.
	RootPEM []byte

	srv      *http.Server
	chall    *challtestsrv.ChallSrv
	stopOnce sync.Once
}

// Start runs a Pebble for the test and stops it at cleanup. It sets PEBBLE_VA_NOSLEEP (Pebble reads its
// environment), so the calling test cannot be parallel.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s, err := start(t, o)
	if err != nil {
		t.Fatalf("start pebble: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func start(t testing.TB, o Options) (*Server, error) {
	if o.TLSPort <= 0 {
		return nil, errors.New("Options.TLSPort is required: the port of the listener Pebble validates")
	}
	out := o.Log
	if out == nil {
		out = io.Discard
	}
	logger := log.New(out, "pebble ", log.LstdFlags)
	if s, ok := t.(interface{ Setenv(string, string) }); ok {
		s.Setenv("PEBBLE_VA_NOSLEEP", "1") // Pebble otherwise waits up to 5 s before every validation
	}
	dnsAddr, chall, err := startDNS(logger, "127.0.0.1", "127.0.0.1")
	if err != nil {
		return nil, err
	}
	store := db.NewMemoryStore()
	profiles := map[string]ca.Profile{"default": {Description: "test profile", ValidityPeriod: uint64(o.Validity / time.Second)}}
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, profiles)
	validator := va.New(logger, 0, o.TLSPort, false, dnsAddr, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)

	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		chall.Shutdown()
		return nil, fmt.Errorf("listen for the ACME directory on %s: %w", addr, err)
	}
	api := o.APICert
	if api == nil {
		if api, err = NewAPICert(); err != nil {
			ln.Close()
			chall.Shutdown()
			return nil, err
		}
	}
	root := authority.GetRootCert(0)
	s := &Server{
		Addr:       ln.Addr().String(),
		APICertPEM: api.PEM,
		RootPEM:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.DER}),
		srv:        &http.Server{Handler: front.Handler(), ErrorLog: logger, ReadHeaderTimeout: 10 * time.Second},
		chall:      chall,
	}
	s.DirectoryURL = "https://" + s.Addr + wfe.DirectoryPath
	go s.srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{api.cert}}))
	return s, nil
}

// Stop closes the ACME endpoint and the DNS server. Clients then get "connection refused".
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.srv.Close()
		s.chall.Shutdown()
	})
}

// StartDNS runs the challenge test server's DNS on a free port of host, answering every A query with answer
// and no AAAA, until the test ends: what a Pebble in a container (its -dnsserver flag) resolves the names it
// validates with. It returns host:port.
func StartDNS(t testing.TB, host, answer string) string {
	t.Helper()
	addr, chall, err := startDNS(log.New(io.Discard, "", 0), host, answer)
	if err != nil {
		t.Fatalf("start the challenge test server's DNS: %v", err)
	}
	t.Cleanup(chall.Shutdown)
	return addr
}

// startDNS runs the challenge test server's DNS on a free port of host, answering A queries with answer and
// no AAAA (so that validation connects over IPv4, where the server under test listens).
func startDNS(logger *log.Logger, host, answer string) (string, *challtestsrv.ChallSrv, error) {
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freeUDPAndTCPPort(host)
		if err != nil {
			return "", nil, err
		}
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		chall, err := challtestsrv.New(challtestsrv.Config{DNSAddrs: []string{addr}, Log: logger})
		if err != nil {
			return "", nil, fmt.Errorf("challenge test server: %w", err)
		}
		chall.SetDefaultDNSIPv4(answer)
		chall.SetDefaultDNSIPv6("")
		chall.Run()
		if dnsAnswers(addr) {
			return addr, chall, nil
		}
		chall.Shutdown() // the port was taken between the probe and the bind: try another
	}
	return "", nil, errors.New("challenge test server's DNS did not answer on any of 5 free ports")
}

// dnsAnswers waits (up to 5 s) until the DNS server at addr answers over TCP, which Pebble's VA uses.
func dnsAnswers(addr string) bool {
	c := &dns.Client{Net: "tcp", Timeout: 500 * time.Millisecond}
	q := new(dns.Msg)
	q.SetQuestion("probe.test.", dns.TypeA)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if r, _, err := c.Exchange(q, addr); err == nil && len(r.Answer) > 0 {
			return true
		}
		time.Sleep(20 * time.Millisecond) // the server binds in a goroutine that reports nothing
	}
	return false
}

func freeUDPAndTCPPort(host string) (int, error) {
	for range 20 {
		udp, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			return 0, err
		}
		port := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		udp.Close()
		if err == nil {
			tcp.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no port free for both UDP and TCP on %s", host)
}

// NewAPICert makes a certificate for the ACME endpoint, valid for 127.0.0.1, localhost and the extra IP
// addresses or names (where a Pebble in a container is reached).
func NewAPICert(extra ...string) (*APICert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "pebble stand-in ACME endpoint"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	for _, h := range extra {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &APICert{cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		PEM:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})}, nil
}
