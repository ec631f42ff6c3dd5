// Package tlsserve gives the connector's listeners (BTP, the discovery registry) their TLS: a certificate
// obtained and renewed over ACME, one loaded from files, or none; with the certificate's status for health and
// metrics.
package tlsserve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/m2mnet/m2m/connector/metrics"
)

// Mode says where the server's certificate comes from.
type Mode string

// Modes.
const (
	Off   Mode = "off"   // plain ws:// and http://
	ACME  Mode = "acme"  // obtained and renewed from an ACME CA (Let's Encrypt by default) via TLS-ALPN-01
	Files Mode = "files" // a certificate and key in PEM files, renewed by someone else
)

// LetsEncrypt is the default ACME directory.
const LetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"

// Typed configuration errors; cmd/ names the setting or flag that fixes them.
var (
	ErrUnknownMode   = errors.New("unknown TLS mode")
	ErrNoDomain      = errors.New("a domain name is required to obtain a certificate")
	ErrNoCertFiles   = errors.New("a certificate file and a key file are required")
	ErrNoDataDir     = errors.New("a directory to keep the ACME account and certificates is required")
	ErrNoCertificate = errors.New("no valid certificate yet")
)

// Config configures a Manager.
type Config struct {
	Mode   Mode
	Domain string // the public name the certificate is for (acme)
	Email  string // ACME account contact; may be empty
	CA     string // ACME directory URL; "" is Let's Encrypt's production directory
	// Roots are trusted to reach the ACME CA; nil means the system's.
	Roots *x509.CertPool
	// DataDir keeps the ACME account and certificates (acme), so a restart reuses them.
	DataDir           string
	CertFile, KeyFile string // files
	// ReloadEvery is how often, at most, the files are checked for a change (on a handshake); 0 is a minute.
	ReloadEvery time.Duration
	// ListenHost and Port are where the TLS listener is bound: the CA's TLS-ALPN-01 validation, which
	// arrives on port 443 of the domain, must reach this listener (the stack publishes 443 to it).
	ListenHost string
	Port       int
	Logger     *slog.Logger     // nil discards
	Metrics    *metrics.Metrics // nil records nothing
}

// Status is the certificate as health reports it.
type Status struct {
	Mode      Mode      `json:"mode"`
	Domain    string    `json:"domain,omitempty"`
	Valid     bool      `json:"valid"`
	NotAfter  time.Time `json:"notAfter,omitzero"`
	DaysLeft  int       `json:"daysLeft"`
	LastError string    `json:"lastError,omitempty"`
}

// Manager serves one certificate and keeps it current.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	server  *tls.Config
	acme    *acmeSource // nil unless acme
	now     func() time.Time
	mu      sync.Mutex
	leaf    *x509.Certificate // the certificate being served; nil before the first
	lastErr error
}

// New prepares a Manager. For files it loads the certificate now (a bad file is an error at start); for acme
// nothing is obtained until Run.
func New(cfg Config) (*Manager, error) {
	m := &Manager{cfg: cfg, log: cfg.Logger, now: time.Now}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	switch cfg.Mode {
	case Off, "":
		m.cfg.Mode = Off
		return m, nil
	case Files:
		if cfg.CertFile == "" || cfg.KeyFile == "" {
			return nil, ErrNoCertFiles
		}
		fs, err := newFileSource(cfg.CertFile, cfg.KeyFile, cfg.ReloadEvery, m.setLeaf)
		if err != nil {
			return nil, err
		}
		m.server = &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}, GetCertificate: fs.get}
		m.setLeaf(fs.leaf())
		return m, nil
	case ACME:
		if cfg.Domain == "" {
			return nil, ErrNoDomain
		}
		if cfg.DataDir == "" {
			return nil, ErrNoDataDir
		}
		a, err := newACMESource(m)
		if err != nil {
			return nil, err
		}
		m.acme = a
		m.server = a.serverConfig()
		return m, nil
	}
	return nil, fmt.Errorf("%w %q: use acme, files or off", ErrUnknownMode, cfg.Mode)
}

// Mode is the manager's mode.
func (m *Manager) Mode() Mode { return m.cfg.Mode }

// ServerConfig is the listener's TLS configuration; nil when the mode is off. Wrap the listener with
// tls.NewListener: for acme the same listener answers the CA's TLS-ALPN-01 validation.
func (m *Manager) ServerConfig() *tls.Config { return m.server }

// Run obtains the certificate (acme), retrying with backoff until it has one, then keeps it renewed, until
// ctx is done. A valid certificate keeps being served while renewal fails. It returns at once unless acme.
func (m *Manager) Run(ctx context.Context) {
	if m.acme != nil {
		m.acme.run(ctx)
	}
}

// Status reports the served certificate.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := Status{Mode: m.cfg.Mode, Domain: m.cfg.Domain}
	if m.lastErr != nil {
		st.LastError = m.lastErr.Error()
	}
	if m.leaf != nil {
		now := m.now()
		st.NotAfter = m.leaf.NotAfter
		st.Valid = now.After(m.leaf.NotBefore) && now.Before(m.leaf.NotAfter)
		st.DaysLeft = int(math.Floor(m.leaf.NotAfter.Sub(now).Hours() / 24))
	}
	return st
}

// Check is the health check: an error (the last failure and what to check) while no valid certificate is
// served; otherwise the certificate's expiry, with the renewal failure if there is one.
func (m *Manager) Check(context.Context) (string, error) {
	st := m.Status()
	if st.Mode == Off {
		return "off: plain ws://", nil
	}
	if !st.Valid {
		why := st.LastError
		if why == "" {
			why = "still obtaining"
		}
		if st.Mode == ACME {
			return "", fmt.Errorf("%w for %s: %s (check that %s points to this host, that port 443 reaches the BTP listener, and that the ACME CA is reachable)",
				ErrNoCertificate, st.Domain, why, st.Domain)
		}
		return "", fmt.Errorf("%w: %s", ErrNoCertificate, why)
	}
	detail := fmt.Sprintf("%s certificate valid until %s (%d days left)", st.Mode, st.NotAfter.UTC().Format(time.RFC3339), st.DaysLeft)
	if st.LastError != "" {
		detail += "; renewal failing: " + st.LastError
	}
	return detail, nil
}

// Close stops certificate maintenance.
func (m *Manager) Close() {
	if m.acme != nil {
		m.acme.close()
	}
}

func (m *Manager) setLeaf(leaf *x509.Certificate) {
	m.mu.Lock()
	changed := leaf != nil && (m.leaf == nil || !leaf.Equal(m.leaf))
	if leaf != nil {
		m.leaf = leaf
	}
	m.mu.Unlock()
	if changed {
		if m.cfg.Metrics != nil {
			m.cfg.Metrics.TLSCertExpiry.Set(float64(leaf.NotAfter.Unix()))
		}
		m.log.Info("serving TLS certificate", "mode", string(m.cfg.Mode), "names", leaf.DNSNames,
			"notAfter", leaf.NotAfter.UTC().Format(time.RFC3339), "serial", leaf.SerialNumber.Text(16))
	}
}

func (m *Manager) setError(err error) {
	m.mu.Lock()
	m.lastErr = err
	m.mu.Unlock()
}

// failed records a failed attempt to obtain or renew.
func (m *Manager) failed(err error) {
	m.setError(err)
	if m.cfg.Metrics != nil {
		m.cfg.Metrics.TLSRenewalFailures.Inc()
	}
}
