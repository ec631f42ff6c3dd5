package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/pflag"

	"github.com/m2mnet/m2m/connector/config"
	"github.com/m2mnet/m2m/connector/health"
	"github.com/m2mnet/m2m/connector/metrics"
	"github.com/m2mnet/m2m/connector/tlsserve"
	"github.com/m2mnet/m2m/stack/settings"
)

// tlsCheckEvery is how often readiness looks at the certificate: the check reads memory only.
const tlsCheckEvery = 2 * time.Second

// tlsWiring is what the BTP listener and the dialers need of TLS.
type tlsWiring struct {
	manager *tlsserve.Manager
	dial    *tls.Config // for wss:// peers and https:// registries; trusts TLS_CA_FILE besides the system
}

// tlsNames says which setting or flag fixes each part of the TLS configuration, in the error messages.
type tlsNames struct{ mode, domain, certFile, keyFile, dataDir, caFile string }

var tlsSettingNames = tlsNames{mode: settings.BTPTLS, domain: settings.BTPDomain, certFile: settings.BTPTLSCertFile,
	keyFile: settings.BTPTLSKeyFile, dataDir: settings.ACMEDataDir, caFile: settings.TLSCAFile}

// newTLS builds the TLS of a listener bound to bind:port from the TLS part of the settings (or of the flags).
func newTLS(c config.TLS, names tlsNames, bind string, port int, m *metrics.Metrics, log *slog.Logger) (tlsWiring, error) {
	roots, err := tlsserve.Roots(c.CAFile)
	if err != nil {
		return tlsWiring{}, fmt.Errorf("%w; set %s to a PEM file of CA certificates, or leave it empty", err, names.caFile)
	}
	mgr, err := tlsserve.New(tlsserve.Config{Mode: tlsserve.Mode(c.Mode), Domain: c.Domain, Email: c.Email, CA: c.CA, Roots: roots,
		DataDir: c.DataDir, CertFile: c.CertFile, KeyFile: c.KeyFile, ListenHost: bind, Port: port, Metrics: m,
		Logger: log.With("component", "tls")})
	switch {
	case errors.Is(err, tlsserve.ErrNoDomain):
		return tlsWiring{}, fmt.Errorf("%s=acme needs %s: the public DNS name of this node", names.mode, names.domain)
	case errors.Is(err, tlsserve.ErrNoCertFiles):
		return tlsWiring{}, fmt.Errorf("%s=files needs %s and %s", names.mode, names.certFile, names.keyFile)
	case errors.Is(err, tlsserve.ErrNoDataDir):
		return tlsWiring{}, fmt.Errorf("%s=acme needs %s: a writable directory for the ACME account and certificates", names.mode, names.dataDir)
	case errors.Is(err, tlsserve.ErrUnknownMode):
		return tlsWiring{}, fmt.Errorf("%w; set %s", err, names.mode)
	case err != nil:
		return tlsWiring{}, fmt.Errorf("%w; check %s and %s", err, names.certFile, names.keyFile)
	}
	return tlsWiring{manager: mgr, dial: tlsserve.ClientConfig(roots)}, nil
}

// wrap makes ln a TLS listener unless TLS is off.
func (t tlsWiring) wrap(ln net.Listener) net.Listener {
	if t.manager == nil || t.manager.ServerConfig() == nil {
		return ln
	}
	return tls.NewListener(ln, t.manager.ServerConfig())
}

// scheme is the WebSocket scheme peers dial this listener with.
func (t tlsWiring) scheme() string {
	if t.manager == nil || t.manager.Mode() == tlsserve.Off {
		return "ws"
	}
	return "wss"
}

// httpClient is the client for registries: the system's roots plus TLS_CA_FILE.
func (t tlsWiring) httpClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: http.ProxyFromEnvironment,
		TLSClientConfig: t.dial, TLSHandshakeTimeout: 10 * time.Second}}
}

// dependency is readiness's view of the certificate: required unless TLS is off.
func (t tlsWiring) dependency() health.Dependency {
	if t.manager == nil || t.manager.Mode() == tlsserve.Off {
		return health.Dependency{Name: "tls"}
	}
	return health.Dependency{Name: "tls", Required: true, Interval: tlsCheckEvery, Check: t.manager.Check}
}

// tlsFlags are the TLS flags of `m2m-connector discovery`, the same options as the connector's settings.
func tlsFlags(f *pflag.FlagSet, c *config.TLS) tlsNames {
	f.StringVar(&c.Mode, "tls", "off", "TLS on the listener: acme, files or off")
	f.StringVar(&c.Domain, "tls-domain", "", "public DNS name of the registry (--tls=acme)")
	f.StringVar(&c.Email, "acme-email", "", "contact address given to the ACME CA")
	f.StringVar(&c.CA, "acme-ca", settings.LetsEncryptDirectory, "ACME directory URL")
	f.StringVar(&c.DataDir, "acme-data-dir", "/data/discovery-acme", "directory for the ACME account and certificates")
	f.StringVar(&c.CertFile, "tls-cert-file", "", "PEM certificate chain (--tls=files)")
	f.StringVar(&c.KeyFile, "tls-key-file", "", "PEM private key (--tls=files)")
	f.StringVar(&c.CAFile, "tls-ca-file", "", "extra CA certificates (PEM) trusted to reach the ACME CA")
	return tlsNames{mode: "--tls", domain: "--tls-domain", certFile: "--tls-cert-file", keyFile: "--tls-key-file",
		dataDir: "--acme-data-dir", caFile: "--tls-ca-file"}
}

// run obtains and renews the certificate until ctx is done (nothing to do unless acme).
func (t tlsWiring) run(ctx context.Context) {
	if t.manager != nil {
		t.manager.Run(ctx)
	}
}

func (t tlsWiring) close() {
	if t.manager != nil {
		t.manager.Close()
	}
}

// listenHost is the host part of a --listen address ("" for every interface).
func listenHost(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return host
}
