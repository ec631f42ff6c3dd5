package tlsserve

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ErrNoCertsInBundle is returned for a CA bundle file that holds no PEM certificate.
var ErrNoCertsInBundle = errors.New("no PEM certificate found")

// Roots returns the system's trusted roots plus the PEM certificates in bundleFile (a private CA, a test CA);
// nil and no error when bundleFile is empty, which means the system's roots alone.
func Roots(bundleFile string) (*x509.CertPool, error) {
	if bundleFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(bundleFile)
	if err != nil {
		return nil, fmt.Errorf("read CA bundle: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA bundle %s: %w", bundleFile, ErrNoCertsInBundle)
	}
	return pool, nil
}

// ClientConfig is the TLS configuration for dialing peers and registries: the given roots (nil: the
// system's), TLS 1.2 at least.
func ClientConfig(roots *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}
