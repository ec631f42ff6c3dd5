package tlsserve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
)

// Obtain retries and renewal checks. The first retry is quick (a CA that was briefly down, a DNS record that
// just propagated); later ones back off so that a wrong DNS record does not hammer a public CA.
const (
	firstRetry    = 2 * time.Second
	maxRetry      = 10 * time.Minute
	attemptBudget = 3 * time.Minute
	maxCheckEvery = 10 * time.Minute
	minCheckEvery = time.Second
)

// acmeSource obtains and renews the certificate with certmagic, which stores the account and certificates in
// DataDir and answers TLS-ALPN-01 on the listener that serves its TLS configuration.
type acmeSource struct {
	m      *Manager
	cache  *certmagic.Cache
	magic  *certmagic.Config
	domain string
}

func newACMESource(m *Manager) (*acmeSource, error) {
	if m.cfg.Port <= 0 {
		return nil, fmt.Errorf("acme: the TLS listener's port is required (got %d)", m.cfg.Port)
	}
	a := &acmeSource{m: m, domain: m.cfg.Domain}
	zl := zapToSlog(m.log.With("component", "acme"))
	a.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return a.magic, nil },
		Logger:           zl,
	})
	a.magic = certmagic.New(a.cache, certmagic.Config{
		Storage:           &certmagic.FileStorage{Path: m.cfg.DataDir},
		DefaultServerName: m.cfg.Domain, // a client that sends no server name (dialed by IP) still gets it
		OnEvent:           a.onEvent,
		OCSP:              certmagic.OCSPConfig{DisableStapling: true}, // Let's Encrypt ended OCSP in 2025
		Logger:            zl,
	})
	ca := m.cfg.CA
	if ca == "" {
		ca = LetsEncrypt
	}
	a.magic.Issuers = []certmagic.Issuer{unprompted{certmagic.NewACMEIssuer(a.magic, certmagic.ACMEIssuer{
		CA: ca, Email: m.cfg.Email, Agreed: true, TrustedRoots: m.cfg.Roots,
		// Only TLS-ALPN-01: it arrives on 443, published to our own listener, which answers it (certmagic sees
		// the port taken by that listener and leaves it to it). HTTP-01 would need port 80 as well.
		DisableHTTPChallenge: true, ListenHost: m.cfg.ListenHost, AltTLSALPNPort: m.cfg.Port,
		Logger: zl,
	})}}
	return a, nil
}

// unprompted is certmagic's ACME issuer that never asks on the terminal: with no ACME_EMAIL, ManageSync
// (an "interactive" obtain) would print a prompt to stdout and block reading stdin for an address.
type unprompted struct{ *certmagic.ACMEIssuer }

// PreCheck is the issuer's own, always without prompts.
func (u unprompted) PreCheck(ctx context.Context, names []string, _ bool) error {
	return u.ACMEIssuer.PreCheck(ctx, names, false)
}

func (a *acmeSource) serverConfig() *tls.Config {
	c := a.magic.TLSConfig()
	c.MinVersion = tls.VersionTLS12
	// BTP is a WebSocket: HTTP/1.1 only. acme-tls/1 is offered only by the CA's validation.
	c.NextProtos = []string{"http/1.1", acmez.ACMETLS1Protocol}
	return c
}

// run obtains the certificate, retrying with backoff, then checks for renewal as often as the certificate's
// lifetime calls for (certmagic's own maintenance checks every 10 minutes too).
func (a *acmeSource) run(ctx context.Context) {
	wait := firstRetry
	for {
		actx, cancel := context.WithTimeout(ctx, attemptBudget)
		err := a.magic.ManageSync(actx, []string{a.domain})
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			break
		}
		a.m.failed(err)
		a.m.log.Error("could not obtain a TLS certificate; retrying", "domain", a.domain, "retryIn", wait.String(), "err", err.Error())
		if !sleep(ctx, wait) {
			return
		}
		wait = min(2*wait, maxRetry)
	}
	a.refresh()
	for {
		if !sleep(ctx, a.checkEvery()) {
			return
		}
		if err := a.cache.RenewManagedCertificates(ctx); err != nil {
			a.m.log.Warn("certificate renewal check failed", "domain", a.domain, "err", err.Error())
		}
		a.refresh()
	}
}

// checkEvery is a tenth of the served certificate's remaining life, within [1 s, 10 min]: a 90-day
// certificate is checked every 10 minutes, a test's one-minute certificate every few seconds.
func (a *acmeSource) checkEvery() time.Duration {
	st := a.m.Status()
	if st.NotAfter.IsZero() {
		return minCheckEvery
	}
	return min(max(time.Until(st.NotAfter)/10, minCheckEvery), maxCheckEvery)
}

// refresh takes the certificate that handshakes are now served with from certmagic's cache.
func (a *acmeSource) refresh() {
	var best *certmagic.Certificate
	for _, c := range a.cache.AllMatchingCertificates(a.domain) {
		if c.Leaf != nil && (best == nil || c.Leaf.NotAfter.After(best.Leaf.NotAfter)) {
			best = &c
		}
	}
	if best != nil {
		a.m.setLeaf(best.Leaf)
	}
}

// onEvent follows certmagic's obtain and renew outcomes, including renewals its own maintenance starts.
func (a *acmeSource) onEvent(_ context.Context, event string, data map[string]any) error {
	switch event {
	case "cert_obtained":
		a.m.setError(nil)
		renewal, _ := data["renewal"].(bool)
		a.m.log.Info("TLS certificate obtained", "domain", a.domain, "renewal", renewal)
	case "cert_failed":
		renewal, _ := data["renewal"].(bool)
		err, _ := data["error"].(error)
		if err == nil {
			err = errors.New("unknown error")
		}
		if renewal {
			a.m.failed(fmt.Errorf("renewal: %w", err))
			a.m.log.Error("TLS certificate renewal failed; the current certificate keeps being served", "domain", a.domain, "err", err.Error())
		}
	}
	return nil
}

func (a *acmeSource) close() { a.cache.Stop() }

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
