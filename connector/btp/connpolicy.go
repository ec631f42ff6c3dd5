package btp

import (
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The BTP port is the one public port of a connector. Its connection policy bounds what a stranger can hold
// open (idle keep-alive connections, connections per address) and what it can make the connector write to
// its log.

// Connection policy defaults.
const (
	// DefaultIdleTimeout closes a keep-alive HTTP connection that sent no request for this long. Upgraded
	// WebSocket sessions are not HTTP connections any more and are not affected.
	DefaultIdleTimeout = 30 * time.Second
	// RefusalWindow is the period over which refused connections are counted per remote address: the first
	// refusal of a window is logged at once, the rest as one line when the window ends.
	RefusalWindow = time.Minute
	// maxRefusalAddrs bounds the addresses tracked at once; past it (many addresses, as from an IPv6
	// range) refusals are counted together under "*".
	maxRefusalAddrs = 4096
)

// Refusal reasons, the values of the "reason" label of m2m_btp_connections_refused_total.
const (
	RefusedAuth       = "auth"         // the auth packet was missing, malformed or its token refused
	RefusedPerIP      = "per_ip_limit" // the address already holds as many connections as allowed
	RefusedNotUpgrade = "not_upgrade"  // a plain HTTP request, not a WebSocket upgrade
)

// ConnPolicy is the connection policy of the BTP port.
type ConnPolicy struct {
	// IdleTimeout closes idle keep-alive connections; 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxConnsPerIP caps the connections one remote IP address holds at once; 0 means no cap.
	MaxConnsPerIP int
	// HeaderTimeout is how long a connection may take to send its request headers; 0 means 10 s.
	HeaderTimeout time.Duration
}

// NewHTTPServer returns the HTTP server for the BTP port: headers must arrive within HeaderTimeout, idle keep-alive
// connections are closed after the policy's IdleTimeout, and a request that is not a WebSocket upgrade is
// answered 426 with Connection: close (and recorded in refusals) without reaching h, so a stranger cannot
// park connections on the port.
func NewHTTPServer(h http.Handler, p ConnPolicy, refusals *RefusalLog, errLog *slog.Logger) *http.Server {
	idle, header := p.IdleTimeout, p.HeaderTimeout
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	if header <= 0 {
		header = 10 * time.Second
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !isUpgrade(r) {
				refusals.Refused(r.RemoteAddr, RefusedNotUpgrade, nil)
				w.Header().Set("Connection", "close")
				w.Header().Set("Upgrade", "websocket")
				http.Error(w, "this is a BTP port: connect with a WebSocket upgrade (RFC 0023)", http.StatusUpgradeRequired)
				return
			}
			h.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: header,
		IdleTimeout:       idle,
	}
	if errLog != nil {
		srv.ErrorLog = slog.NewLogLogger(errLog.Handler(), slog.LevelDebug)
	}
	return srv
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

// RefusalLog logs refused connections aggregated per remote address: the first refusal from an address is
// logged at once, the following ones within RefusalWindow as one line with their count when the window
// ends. Every refusal is counted by onRefused (a metric), whatever is logged.
type RefusalLog struct {
	log       *slog.Logger
	onRefused func(reason string)
	window    time.Duration

	mu     sync.Mutex
	byAddr map[string]*refusals
}

type refusals struct {
	count   int
	reasons map[string]int
}

// NewRefusalLog returns a RefusalLog writing to log (nil: nowhere) and counting through onRefused (nil: not).
func NewRefusalLog(log *slog.Logger, onRefused func(reason string)) *RefusalLog {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RefusalLog{log: log, onRefused: onRefused, window: RefusalWindow, byAddr: map[string]*refusals{}}
}

// Refused records one refused connection from remoteAddr (host:port or host) for reason; err says why, and
// must not carry a secret such as the token.
func (l *RefusalLog) Refused(remoteAddr, reason string, err error) {
	if l == nil {
		return
	}
	if l.onRefused != nil {
		l.onRefused(reason)
	}
	host := remoteAddr
	if h, _, e := net.SplitHostPort(remoteAddr); e == nil {
		host = h
	}
	l.mu.Lock()
	w, open := l.byAddr[host]
	if !open && len(l.byAddr) >= maxRefusalAddrs {
		host = "*"
		w, open = l.byAddr[host]
	}
	if !open {
		w = &refusals{reasons: map[string]int{}}
		l.byAddr[host] = w
		time.AfterFunc(l.window, func() { l.close(host) })
	} else {
		w.count++
		w.reasons[reason]++
	}
	l.mu.Unlock()
	if !open {
		attrs := []any{"remote", host, "reason", reason}
		if err != nil {
			attrs = append(attrs, "err", err)
		}
		l.log.Warn("refused a BTP connection; further refusals from this address are counted for a minute", attrs...)
	}
}

// close ends host's window, logging what it counted after the first refusal.
func (l *RefusalLog) close(host string) {
	l.mu.Lock()
	w := l.byAddr[host]
	delete(l.byAddr, host)
	l.mu.Unlock()
	if w != nil && w.count > 0 {
		l.log.Warn("refused more BTP connections from one address", "remote", host, "count", w.count,
			"window", l.window, "byReason", w.reasons)
	}
}

// LimitListener caps the connections each remote IP address holds at once (max > 0); a connection over the
// cap is closed at once and recorded in refusals. max <= 0 returns ln unchanged.
func LimitListener(ln net.Listener, max int, refusals *RefusalLog) net.Listener {
	if max <= 0 {
		return ln
	}
	return &limitListener{Listener: ln, max: max, refusals: refusals, open: map[string]int{}}
}

type limitListener struct {
	net.Listener
	max      int
	refusals *RefusalLog

	mu   sync.Mutex
	open map[string]int
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		l.mu.Lock()
		if l.open[host] >= l.max {
			l.mu.Unlock()
			_ = c.Close()
			l.refusals.Refused(host, RefusedPerIP, nil)
			continue
		}
		l.open[host]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, release: func() { l.release(host) }}, nil
	}
}

func (l *limitListener) release(host string) {
	l.mu.Lock()
	if l.open[host]--; l.open[host] <= 0 {
		delete(l.open, host)
	}
	l.mu.Unlock()
}

// limitedConn gives its place back when closed, once, also after a WebSocket upgrade has hijacked it.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
