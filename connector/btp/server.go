package btp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// ErrAuthRejected is returned by Dial when the server refused the auth token.
var ErrAuthRejected = errors.New("btp: authentication rejected")

// ServerConfig configures the accepting end.
type ServerConfig struct {
	// Authenticate maps an auth_token to the peer it belongs to. It is pluggable so that discovery can accept
	// signed tokens; an error refuses the peer.
	Authenticate func(ctx context.Context, token string) (peerID string, err error)
	// OnSession is called for every authenticated session; the session has ended when its Done is closed.
	OnSession func(*Session)
	Session   SessionConfig
	// Refusals, when set, logs refused connections aggregated per address and counts them
	// (connpolicy.go); nil logs each refusal to Session.Logger.
	Refusals *RefusalLog
}

// Server accepts BTP connections over WebSocket. It is an http.Handler.
type Server struct {
	cfg ServerConfig

	mu       sync.Mutex
	sessions map[*Session]struct{}
	closed   bool
}

// NewServer returns a server; mount it on the BTP port.
func NewServer(cfg ServerConfig) *Server {
	cfg.Session.Limits = cfg.Session.Limits.withDefaults()
	return &Server{cfg: cfg, sessions: make(map[*Session]struct{})}
}

// ServeHTTP upgrades to WebSocket, authenticates the peer, and serves its session until it ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		http.Error(w, "connector is shutting down", http.StatusServiceUnavailable)
		return
	}
	conn, err := websocket.Accept(coalescingWriter{w}, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		s.cfg.Refusals.Refused(r.RemoteAddr, RefusedNotUpgrade, err)
		return // Accept has answered the client already
	}
	conn.SetReadLimit(s.cfg.Session.Limits.MaxMessageSize)
	log := s.cfg.Session.Logger
	peerID, err := s.authenticate(r.Context(), conn)
	if err != nil {
		if s.cfg.Refusals != nil {
			s.cfg.Refusals.Refused(r.RemoteAddr, RefusedAuth, err)
		} else if log != nil {
			log.Warn("refused a BTP peer at auth", "remote", r.RemoteAddr, "err", err)
		}
		_ = conn.Close(websocket.StatusPolicyViolation, "authentication failed")
		return
	}
	sess := newSession(conn, peerID, s.cfg.Session, randomID())
	if !s.track(sess) {
		_ = sess.Close()
		return
	}
	defer s.untrack(sess)
	if s.cfg.OnSession != nil {
		s.cfg.OnSession(sess)
	}
	<-sess.Done()
}

// authenticate reads the first packet, which must be a Message whose first entry is "auth" and which carries
// "auth_token"; "auth_username" (older clients) is accepted and ignored. It answers Response or Error.
func (s *Server) authenticate(ctx context.Context, conn *websocket.Conn) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Session.Limits.AuthTimeout)
	defer cancel()
	typ, data, err := conn.Read(ctx)
	if err != nil {
		return "", fmt.Errorf("read auth packet: %w", err)
	}
	var p Packet
	if typ != websocket.MessageBinary || p.Decode(data) != nil || p.Type != TypeMessage {
		return "", errors.New("first packet is not a BTP Message") // unparseable: no answer
	}
	token, ok := p.Entry("auth_token")
	if len(p.ProtocolData) == 0 || p.ProtocolData[0].Name != "auth" || !ok {
		s.refuse(ctx, conn, p.RequestID, "first Message must carry auth and auth_token")
		return "", errors.New("first Message lacks auth/auth_token")
	}
	if s.cfg.Authenticate == nil {
		s.refuse(ctx, conn, p.RequestID, "this connector accepts no peers")
		return "", errors.New("no authenticator configured")
	}
	peerID, err := s.cfg.Authenticate(ctx, string(token.Data))
	if err != nil {
		s.refuse(ctx, conn, p.RequestID, "invalid auth token")
		return "", fmt.Errorf("auth token refused: %w", err) // the authenticator must not echo the token
	}
	ok2 := Packet{Type: TypeResponse, RequestID: p.RequestID}
	b, _ := ok2.AppendBinary(nil)
	if err := conn.Write(ctx, websocket.MessageBinary, b); err != nil {
		return "", fmt.Errorf("answer auth: %w", err)
	}
	return peerID, nil
}

func (s *Server) refuse(ctx context.Context, conn *websocket.Conn, id uint32, why string) {
	e := Packet{Type: TypeError, RequestID: id, Error: ErrorInfo{
		Code: "F00", Name: "NotAcceptedError", TriggeredAt: time.Now(), Data: []byte(why),
	}}
	b, _ := e.AppendBinary(nil)
	_ = conn.Write(ctx, websocket.MessageBinary, b)
}

func (s *Server) track(sess *Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.sessions[sess] = struct{}{}
	return true
}

func (s *Server) untrack(sess *Session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
}

// Shutdown refuses new connections, drains every session and then closes them, bounded by ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	all := make([]*Session, 0, len(s.sessions))
	for sess := range s.sessions {
		all = append(all, sess)
	}
	s.mu.Unlock()
	return shutdownAll(ctx, all)
}

// shutdownAll drains every session before closing any: a packet one session is handling may be waiting on
// another (its next hop), which must stay open until the answer comes.
func shutdownAll(ctx context.Context, all []*Session) error {
	err := DrainAll(ctx, all)
	var wg sync.WaitGroup
	for _, sess := range all {
		wg.Go(func() { _ = sess.Shutdown(ctx) }) // already drained: this only closes
	}
	wg.Wait()
	return err
}

// DrainAll drains sessions concurrently and waits for all of them (see Session.Drain).
func DrainAll(ctx context.Context, all []*Session) error {
	errs := make(chan error, len(all))
	for _, sess := range all {
		go func() { errs <- sess.Drain(ctx) }()
	}
	var err error
	for range all {
		err = errors.Join(err, <-errs)
	}
	return err
}

// randomID starts each session's request ids at a random point, so ids from a previous connection are unlikely
// to be mistaken for new ones.
func randomID() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}
