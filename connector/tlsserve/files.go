package tlsserve

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"
)

// fileSource serves a certificate and key from PEM files, reloading them when they change (checked at most
// once a minute, on a handshake), so that a certificate renewed by another tool is picked up without a restart.
type fileSource struct {
	certFile, keyFile string
	every             time.Duration
	loaded            func(*x509.Certificate)

	mu      sync.Mutex
	cert    *tls.Certificate
	modTime time.Time
	checked time.Time
}

func newFileSource(certFile, keyFile string, every time.Duration, loaded func(*x509.Certificate)) (*fileSource, error) {
	if every <= 0 {
		every = time.Minute
	}
	fs := &fileSource{certFile: certFile, keyFile: keyFile, every: every, loaded: func(*x509.Certificate) {}}
	if err := fs.load(); err != nil {
		return nil, err
	}
	fs.loaded = loaded
	return fs, nil
}

func (fs *fileSource) load() error {
	cert, err := tls.LoadX509KeyPair(fs.certFile, fs.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS certificate %s and key %s: %w", fs.certFile, fs.keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return fmt.Errorf("parse TLS certificate %s: %w", fs.certFile, err)
		}
	}
	st, err := os.Stat(fs.certFile)
	if err != nil {
		return err
	}
	fs.mu.Lock()
	fs.cert, fs.modTime, fs.checked = &cert, st.ModTime(), time.Now()
	fs.mu.Unlock()
	fs.loaded(cert.Leaf)
	return nil
}

func (fs *fileSource) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	fs.mu.Lock()
	stale := time.Since(fs.checked) > fs.every
	if stale {
		fs.checked = time.Now()
	}
	cert, modTime := fs.cert, fs.modTime
	fs.mu.Unlock()
	if stale {
		if st, err := os.Stat(fs.certFile); err == nil && !st.ModTime().Equal(modTime) {
			_ = fs.load() // a half-written pair fails to load: keep serving the old one until the next check
			fs.mu.Lock()
			cert = fs.cert
			fs.mu.Unlock()
		}
	}
	return cert, nil
}

func (fs *fileSource) leaf() *x509.Certificate {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.cert.Leaf
}
