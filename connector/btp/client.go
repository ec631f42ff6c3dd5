package btp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// DialConfig says where a peer is and how to authenticate to it.
type DialConfig struct {
	URL   string // ws:// or wss://
	Token string
	// TokenFunc, when set, is called for every dial and its token is sent instead of Token. A Client that
	// redials a restarted peer then presents a fresh token, where a fixed time-limited one (a signed
	// identity token) would have expired and kept the link down for good.
	TokenFunc func() string
	PeerID    string // the id the session is known by on this side
	Session   SessionConfig
	// HTTPClient is used for the WebSocket handshake; nil means one whose connections coalesce writes.
	HTTPClient *http.Client
	// Control, when set and HTTPClient is nil, vets each resolved address before it is dialled (see
	// net.Dialer.Control); no proxy is used then, so that the address vetted is the peer's own.
	Control func(network, address string, c syscall.RawConn) error
	// TLSConfig is used for wss:// when HTTPClient is nil; nil means the system's roots.
	TLSConfig *tls.Config
}

// Dial connects to a BTP server and authenticates. An ErrAuthRejected error means the token was refused.
func Dial(ctx context.Context, cfg DialConfig) (*Session, error) {
	limits := cfg.Session.Limits.withDefaults()
	hc := cfg.HTTPClient
	if hc == nil {
		hc = coalescingClient(cfg.Control, cfg.TLSConfig)
	}
	conn, _, err := websocket.Dial(ctx, cfg.URL, &websocket.DialOptions{
		HTTPClient:      hc,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, fmt.Errorf("connect to peer %s at %s: %w", cfg.PeerID, cfg.URL, err)
	}
	conn.SetReadLimit(limits.MaxMessageSize)
	first := randomID()
	token := cfg.Token
	if cfg.TokenFunc != nil {
		token = cfg.TokenFunc()
	}
	if err := authenticate(ctx, conn, first, token, limits.AuthTimeout); err != nil {
		_ = conn.CloseNow()
		return nil, fmt.Errorf("authenticate to peer %s at %s: %w", cfg.PeerID, cfg.URL, err)
	}
	return newSession(conn, cfg.PeerID, cfg.Session, first), nil
}

func authenticate(ctx context.Context, conn *websocket.Conn, id uint32, token string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	auth := Packet{Type: TypeMessage, RequestID: id, ProtocolData: []ProtocolData{
		{Name: "auth", ContentType: OctetStream, Data: []byte{}},
		{Name: "auth_token", ContentType: TextPlain, Data: []byte(token)},
	}}
	b, err := auth.AppendBinary(nil)
	if err != nil {
		return err
	}
	if err := conn.Write(ctx, websocket.MessageBinary, b); err != nil {
		return fmt.Errorf("send auth: %w", err)
	}
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusPolicyViolation {
				return ErrAuthRejected
			}
			return fmt.Errorf("wait for auth answer: %w", err)
		}
		var p Packet
		if typ != websocket.MessageBinary || p.Decode(data) != nil || p.RequestID != id {
			continue // not the answer; ignore it as BTP says
		}
		switch p.Type {
		case TypeResponse:
			return nil
		case TypeError:
			return fmt.Errorf("%w: %s %s: %s", ErrAuthRejected, p.Error.Code, p.Error.Name, p.Error.Data)
		}
	}
}

// Backoff is exponential with jitter: attempt n waits a random time in [d/2, d], d = min(Max, Min·2^n).
type Backoff struct {
	Min, Max time.Duration
}

// Delay is the wait before retry number attempt (0-based).
func (b Backoff) Delay(attempt int) time.Duration {
	if b.Min <= 0 {
		b.Min = 100 * time.Millisecond
	}
	if b.Max < b.Min {
		b.Max = 30 * time.Second
	}
	d := b.Min
	for i := 0; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return d/2 + rand.N(d/2+1)
}

// Client keeps one outgoing session to a peer up: it dials, and after any failure dials again with backoff.
type Client struct {
	Dial    DialConfig
	Backoff Backoff
	// OnSession is called with every new session; the session has ended when its Done is closed.
	OnSession func(*Session)
}

// Run dials and redials until ctx is done, then shuts the current session down.
func (c *Client) Run(ctx context.Context) {
	log := c.Dial.Session.Logger
	attempt := 0
	for ctx.Err() == nil {
		sess, err := Dial(ctx, c.Dial)
		if err != nil {
			if log != nil && ctx.Err() == nil {
				log.Warn("BTP connect failed; retrying", "peer", c.Dial.PeerID, "attempt", attempt+1,
					"auth_rejected", errors.Is(err, ErrAuthRejected), "err", err)
			}
		} else {
			started := time.Now()
			if c.OnSession != nil {
				c.OnSession(sess)
			}
			select {
			case <-sess.Done():
			case <-ctx.Done():
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = sess.Shutdown(sctx)
				cancel()
				return
			}
			// A session that lived a while proves the peer healthy: start backing off from scratch.
			if time.Since(started) > 30*time.Second {
				attempt = 0
			}
		}
		t := time.NewTimer(c.Backoff.Delay(attempt))
		attempt++
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
