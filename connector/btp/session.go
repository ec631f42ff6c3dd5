package btp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/m2mnet/m2m/connector/ilp"
)

// ErrClosed is returned for requests on a session that has ended.
var ErrClosed = errors.New("btp: session closed")

// ErrBusy is returned by SendPrepare when MaxInFlight requests to the peer are already waiting for answers.
var ErrBusy = errors.New("btp: too many packets in flight to the peer")

// Handler answers an ILP Prepare that a peer sent with the encoded Fulfill or Reject. It must always answer:
// ILP rejects travel in BTP Responses, never as BTP Errors.
type Handler interface {
	HandlePrepare(ctx context.Context, peerID string, prepare []byte) []byte
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, peerID string, prepare []byte) []byte

// HandlePrepare calls f.
func (f HandlerFunc) HandlePrepare(ctx context.Context, peerID string, prepare []byte) []byte {
	return f(ctx, peerID, prepare)
}

// Limits bound what one session may use. Zero fields take the defaults below.
type Limits struct {
	// MaxMessageSize is the largest WebSocket message read; a bigger one closes the session.
	// The default, 64 KiB, holds the largest ILP packet (about 33 KB) with room for BTP's envelope.
	MaxMessageSize int64
	// MaxInFlight caps unanswered packets per direction. Past it an incoming Prepare is rejected at once with
	// T03 Connector Busy (this connector is the one overloaded, RFC 0027) and SendPrepare returns ErrBusy,
	// which the pipeline reports as T02 Peer Busy (the next hop is the one that is saturated).
	MaxInFlight int
	// KeepAlive is the interval between WebSocket pings; a ping not answered within it ends the session.
	KeepAlive time.Duration
	// AuthTimeout bounds the BTP auth handshake.
	AuthTimeout time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxMessageSize <= 0 {
		l.MaxMessageSize = 64 << 10
	}
	if l.MaxInFlight <= 0 {
		l.MaxInFlight = 1024
	}
	if l.KeepAlive <= 0 {
		l.KeepAlive = 20 * time.Second
	}
	if l.AuthTimeout <= 0 {
		l.AuthTimeout = 5 * time.Second
	}
	return l
}

// SessionConfig is what both ends of a BTP connection share.
type SessionConfig struct {
	Handler Handler
	Limits  Limits
	// Address is this connector's ILP address, named as triggeredBy in the T03 sent when a peer exceeds MaxInFlight.
	Address string
	Logger  *slog.Logger
}

type reply struct {
	ilp []byte
	err error
}

// Session is one authenticated BTP connection to a peer. Either end may send Prepares on it.
type Session struct {
	peerID string
	conn   *websocket.Conn
	cfg    SessionConfig
	log    *slog.Logger
	busy   []byte
	ctx    context.Context
	cancel context.CancelFunc
	nextID atomic.Uint32
	inSem  chan struct{}
	outSem chan struct{}
	inWG   sync.WaitGroup
	done   chan struct{}
	// jobs goes to idle workers; unbuffered, so a send succeeds only when one is waiting. readLoop, which
	// dispatches, closes it when it ends; retireIdle sends it quit jobs, under jobsMu so as not to race the close.
	jobs       chan job
	jobsMu     sync.Mutex
	jobsClosed bool
	idle       atomic.Int32
	// wmu serialises writes to conn: the WebSocket library's own lock is a channel, whose waiters park one
	// by one in a select and hand it over in turn; a mutex lets the writer that is running take it.
	wmu sync.Mutex

	mu      sync.Mutex
	pending map[uint32]chan reply
	closing bool
	err     error
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func newSession(conn *websocket.Conn, peerID string, cfg SessionConfig, firstID uint32) *Session {
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Handler == nil {
		cfg.Handler = refuseAll{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{
		peerID:  peerID,
		conn:    conn,
		cfg:     cfg,
		log:     cfg.Logger.With("peer", peerID),
		ctx:     ctx,
		cancel:  cancel,
		inSem:   make(chan struct{}, cfg.Limits.MaxInFlight),
		outSem:  make(chan struct{}, cfg.Limits.MaxInFlight),
		done:    make(chan struct{}),
		jobs:    make(chan job),
		pending: make(map[uint32]chan reply),
	}
	s.nextID.Store(firstID)
	by := ""
	if ilp.ValidAddress(cfg.Address) == nil {
		by = cfg.Address
	}
	s.busy, _ = (&ilp.Reject{Code: ilp.T03ConnectorBusy, TriggeredBy: by, Message: "too many packets in flight from this peer"}).MarshalBinary()
	go s.readLoop()
	go s.keepAlive()
	return s
}

// PeerID is the peer's id, as authenticated.
func (s *Session) PeerID() string { return s.peerID }

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

func (s *Session) closedErr() error { return closedErr(s.Err()) }

// closedErr is ErrClosed, with the reason the session ended when there is one.
func closedErr(why error) error {
	if why == nil || errors.Is(why, ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, why)
}

// Err says why the session ended; nil while it runs.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// SendPrepare sends an encoded ILP Prepare and waits for the peer's encoded Fulfill or Reject, until ctx is done.
func (s *Session) SendPrepare(ctx context.Context, prepare []byte) ([]byte, error) {
	select {
	case s.outSem <- struct{}{}:
	default:
		return nil, ErrBusy
	}
	defer func() { <-s.outSem }()
	ch := replyPool.Get().(chan reply)
	id, err := s.register(ch)
	if err != nil {
		replyPool.Put(ch)
		return nil, err
	}
	defer s.unregister(id, ch)
	if err := s.writeILP(TypeMessage, id, prepare); err != nil {
		return nil, err
	}
	select { // fail answers every registered request when the session ends
	case r := <-ch:
		return r.ilp, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// register picks a request id not in flight: ids wrap after 2^32 requests and a slow one may still be waiting.
func (s *Session) register(ch chan reply) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, closedErr(s.err)
	}
	for {
		id := s.nextID.Add(1)
		if _, taken := s.pending[id]; !taken {
			s.pending[id] = ch
			return id, nil
		}
	}
}

// unregister frees id and recycles ch. onReply sends under s.mu, so once id is gone no reply can reach ch;
// one that came before is drained, and the next request starts with an empty channel.
func (s *Session) unregister(id uint32, ch chan reply) {
	s.mu.Lock()
	delete(s.pending, id)
	s.mu.Unlock()
	select {
	case <-ch:
	default:
	}
	replyPool.Put(ch)
}

var replyPool = sync.Pool{New: func() any { return make(chan reply, 1) }}

func (s *Session) writeILP(t Type, id uint32, ilpPacket []byte) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	*bp = appendILP((*bp)[:0], t, id, ilpPacket)
	return s.write(*bp)
}

func (s *Session) write(b []byte) error {
	s.wmu.Lock()
	err := s.conn.Write(context.Background(), websocket.MessageBinary, b) // no ctx, as in readLoop
	s.wmu.Unlock()
	if err != nil {
		s.fail(fmt.Errorf("write to peer %s: %w", s.peerID, err))
		return s.closedErr()
	}
	return nil
}

func (s *Session) readLoop() {
	defer s.closeJobs()
	var p Packet
	bp := msgPool.Get().(*[]byte)
	for {
		typ, r, err := s.conn.Reader(context.Background()) // no ctx: it would cost a timer per message; fail closes the conn instead
		if err == nil {
			*bp, err = readMessage(r, *bp)
		}
		if err != nil {
			putMsg(bp)
			s.fail(fmt.Errorf("read from peer %s: %w", s.peerID, err))
			return
		}
		if typ != websocket.MessageBinary {
			s.log.Debug("ignoring a text WebSocket message; BTP is binary")
			continue
		}
		// Unparseable or unexpected packets are dropped unanswered: answering could start a feedback loop.
		if err := p.Decode(*bp); err != nil {
			s.log.Debug("dropping an undecodable BTP packet", "err", err)
			continue
		}
		switch p.Type {
		case TypeMessage:
			if s.onMessage(&p, bp) { // a worker has the buffer now
				bp = msgPool.Get().(*[]byte)
			}
		case TypeResponse, TypeError:
			s.onReply(&p)
		default:
			s.log.Debug("ignoring a BTP packet this connector does not use", "type", p.Type)
		}
	}
}

// onMessage answers a Message's Prepare, and reports whether a worker took buf (which the Prepare aliases).
func (s *Session) onMessage(p *Packet, buf *[]byte) bool {
	prepare, ok := p.Entry("ilp")
	if !ok {
		s.log.Debug("ignoring a BTP Message without an ilp entry", "request_id", p.RequestID)
		return false
	}
	select {
	case s.inSem <- struct{}{}:
	default:
		_ = s.writeILP(TypeResponse, p.RequestID, s.busy)
		return false
	}
	// The lock orders Add before Shutdown's Wait, as sync.WaitGroup requires.
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		<-s.inSem
		_ = s.writeILP(TypeResponse, p.RequestID, s.busy)
		return false
	}
	s.inWG.Add(1)
	s.mu.Unlock()
	s.dispatch(job{id: p.RequestID, prepare: prepare.Data, buf: buf})
	return true
}

func (s *Session) onReply(p *Packet) {
	var r reply
	if p.Type == TypeError {
		r.err = fmt.Errorf("btp: peer %s answered with Error %s %s", s.peerID, p.Error.Code, p.Error.Name)
	} else if d, ok := p.Entry("ilp"); ok {
		r.ilp = d.Data // aliases the read buffer: copied below, once it is known to be awaited
	} else {
		r.err = fmt.Errorf("btp: peer %s answered without an ilp entry", s.peerID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.pending[p.RequestID]
	if !ok {
		s.log.Debug("ignoring a BTP reply to no request in flight", "request_id", p.RequestID)
		return
	}
	r.ilp = bytes.Clone(r.ilp)
	select {
	case ch <- r:
	default: // a duplicate reply; the first one counts
	}
}

func (s *Session) keepAlive() {
	t := time.NewTicker(s.cfg.Limits.KeepAlive)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.retireIdle()
			ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Limits.KeepAlive)
			err := s.conn.Ping(ctx)
			cancel()
			if err != nil {
				s.fail(fmt.Errorf("keepalive ping to peer %s: %w", s.peerID, err))
				return
			}
		}
	}
}

// fail ends the session once, with the first reason.
func (s *Session) fail(err error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = err
	closed := reply{err: closedErr(err)}
	for _, ch := range s.pending {
		select {
		case ch <- closed:
		default: // it has its reply already
		}
	}
	s.mu.Unlock()
	s.cancel()
	_ = s.conn.CloseNow()
	close(s.done)
	s.log.Info("BTP session ended", "err", err)
}

// Close ends the session at once; requests in flight fail with ErrClosed.
func (s *Session) Close() error {
	s.fail(ErrClosed)
	return nil
}

// Drain stops taking new Prepares from the peer (they get T03) and waits until the ones being handled are
// answered or ctx is done. The session stays open, so Prepares this side sent on it can still be answered.
func (s *Session) Drain(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	idle := make(chan struct{})
	go func() { s.inWG.Wait(); close(idle) }()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("drain BTP session with peer %s: %w", s.peerID, ctx.Err())
	}
}

// Shutdown drains the session, then closes the connection.
func (s *Session) Shutdown(ctx context.Context) error {
	err := s.Drain(ctx)
	if err == nil {
		_ = s.conn.Close(websocket.StatusGoingAway, "shutting down") // waits briefly for the peer's close frame
	}
	s.fail(ErrClosed)
	return err
}

// refuseAll is the handler of a session that only sends, such as a client that pays but never receives.
type refuseAll struct{}

func (refuseAll) HandlePrepare(context.Context, string, []byte) []byte {
	b, _ := (&ilp.Reject{Code: ilp.F02Unreachable, Message: "this peer does not receive packets"}).MarshalBinary()
	return b
}
