// Package node assembles a running connector: the BTP server and clients, the routing table, the ledger and
// the packet pipeline, and the peers that come and go at runtime.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/ilp"
	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/metrics"
	"github.com/m2mnet/m2m/connector/pipeline"
	"github.com/m2mnet/m2m/connector/routing"
)

// Config is everything a node needs besides its ledger, metrics and logger.
type Config struct {
	// Address is the connector's ILP address (e.g. g.m2m.alpha); children get address.childID.
	Address    string
	AssetCode  string
	AssetScale uint8
	// Peers are the static peers (from PEERS_FILE), added by Start.
	Peers []routing.Peer
	// Authenticate replaces the default check of BTP auth tokens against the peers' authToken (for
	// discovery's signed tokens; give it CheckSharedToken as the fallback for the peers file's tokens).
	// The peer id it returns must be in the routing table (AddPeer) to send.
	Authenticate func(ctx context.Context, token string) (peerID string, err error)
	BTP          btp.Limits
	// Conn is the connection policy of the BTP port (idle timeout, connections per IP).
	Conn    btp.ConnPolicy
	Backoff btp.Backoff
	// Pipeline holds the packet settings; its Address and asset fields are filled from the ones above.
	Pipeline pipeline.Config
	// DialTLS is used to dial wss:// peers; nil means the system's roots.
	DialTLS *tls.Config
}

// State is a peer's link state, the "state" label of m2m_peers.
type State string

// Link states.
const (
	Connected    State = "connected"
	Disconnected State = "disconnected"
)

// PeerStatus is one peer as Peers reports it.
type PeerStatus struct {
	ID       string
	Relation routing.Relation
	Prefix   string
	State    State
}

// Node is a running connector.
type Node struct {
	cfg     Config
	ledger  ledger.Ledger
	metrics *metrics.Metrics
	log     *slog.Logger
	routes  *routing.Table
	pipe    *pipeline.Pipeline
	server  *btp.Server
	refused *btp.RefusalLog

	ctx    context.Context // lives until Close; outgoing clients run under it
	cancel context.CancelFunc
	runs   sync.WaitGroup

	mu       sync.RWMutex
	sessions map[string]*btp.Session   // peer id → the session packets go out on
	all      map[*btp.Session]struct{} // every live session, incoming and outgoing
	locals   map[string]btp.Handler    // peers living in this process
	clients  map[string]context.CancelFunc
	closed   bool
}

// ErrClosed is returned by methods called after Close.
var ErrClosed = errors.New("node: closed")

// New checks cfg and assembles a node. It does no I/O: Start adds the static peers.
func New(cfg Config, l ledger.Ledger, m *metrics.Metrics, log *slog.Logger) (*Node, error) {
	if err := ilp.ValidAddress(cfg.Address); err != nil {
		return nil, fmt.Errorf("connector ILP address: %w", err)
	}
	if l == nil || m == nil {
		return nil, errors.New("node: a ledger and metrics are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, ledger: l, metrics: m, log: log, routes: routing.NewTable(cfg.Address),
		sessions: map[string]*btp.Session{}, all: map[*btp.Session]struct{}{}, locals: map[string]btp.Handler{}, clients: map[string]context.CancelFunc{}}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	pc := cfg.Pipeline
	pc.Address, pc.AssetCode, pc.AssetScale = cfg.Address, cfg.AssetCode, cfg.AssetScale
	n.pipe = pipeline.New(pc, n.routes, l, n, m, log)
	auth := cfg.Authenticate
	if auth == nil {
		auth = n.CheckSharedToken
	}
	n.refused = btp.NewRefusalLog(log, func(reason string) { m.BTPRefused.WithLabelValues(reason).Inc() })
	n.server = btp.NewServer(btp.ServerConfig{Authenticate: auth, OnSession: n.track, Session: n.sessionConfig(), Refusals: n.refused})
	n.updateGauge()
	return n, nil
}

func (n *Node) sessionConfig() btp.SessionConfig {
	return btp.SessionConfig{Handler: n.pipe, Limits: n.cfg.BTP, Address: n.cfg.Address, Logger: n.log}
}

// Start adds the static peers from Config.Peers, creating their ledger accounts and dialling the parents and
// peers that have a btpUrl.
func (n *Node) Start(ctx context.Context) error {
	for _, p := range n.cfg.Peers {
		if err := n.AddPeer(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// CheckSharedToken is the node's own check of a BTP auth token: it returns the peer whose authToken (from
// the peers file, or given to AddPeer) equals token, and routing.ErrUnknownToken for any other token.
// It is the default Authenticate, and the fallback to give discovery's Authenticator.
func (n *Node) CheckSharedToken(ctx context.Context, token string) (peerID string, err error) {
	return n.routes.Authenticate(ctx, token)
}

// Address is the node's ILP address.
func (n *Node) Address() string { return n.cfg.Address }

// ServeHTTP is the BTP endpoint: mount it on the BTP port.
func (n *Node) ServeHTTP(w http.ResponseWriter, r *http.Request) { n.server.ServeHTTP(w, r) }

// Serve serves BTP on ln until ctx is done or the node is closed.
func (n *Node) Serve(ctx context.Context, ln net.Listener) error {
	srv := btp.NewHTTPServer(n, n.cfg.Conn, n.refused, n.log)
	ln = btp.LimitListener(ln, n.cfg.Conn.MaxConnsPerIP, n.refused)
	go func() {
		select {
		case <-ctx.Done():
		case <-n.ctx.Done():
		}
		_ = srv.Close() // the WebSocket sessions are hijacked: Close shuts them down gracefully
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve BTP on %s: %w", ln.Addr(), err)
	}
	return nil
}

// AddPeer adds or replaces a peer at runtime (static or discovered): its ledger account, its route, and for a
// parent or peer with a btpUrl an outgoing connection kept up with backoff.
func (n *Node) AddPeer(ctx context.Context, p routing.Peer) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("add peer: %w", err)
	}
	if p.BTPURL != "" && p.Relation != routing.RelationChild && p.AuthToken == "" && p.DialToken == nil {
		return fmt.Errorf("add peer %s: it has a btpUrl but no authToken to dial with; set authToken, or NODE_PRIVATE_KEY so that signed tokens are sent", p.ID)
	}
	if err := n.ledger.EnsureAccount(ctx, p.ID, p.CreditLimit); err != nil {
		return fmt.Errorf("add peer %s: ledger account: %w", p.ID, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if err := n.routes.Add(p); err != nil {
		return fmt.Errorf("add peer: %w", err)
	}
	n.stopClientLocked(p.ID)
	if p.BTPURL != "" && p.Relation != routing.RelationChild {
		n.startClientLocked(p)
	}
	n.log.Info("peer added", "peer", p.String(), "dial", p.BTPURL != "" && p.Relation != routing.RelationChild)
	n.updateGaugeLocked()
	return nil
}

// RemovePeer drops a peer: its route, its outgoing connection and any session it has. Its ledger account stays.
func (n *Node) RemovePeer(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.routes.Remove(id); !ok {
		return
	}
	n.stopClientLocked(id)
	delete(n.sessions, id)
	for s := range n.all {
		if s.PeerID() == id {
			_ = s.Close()
		}
	}
	delete(n.locals, id)
	n.log.Info("peer removed", "peer", id)
	n.updateGaugeLocked()
}

// Peers reports every peer and whether it is connected.
func (n *Node) Peers() []PeerStatus {
	n.mu.RLock()
	defer n.mu.RUnlock()
	peers := n.routes.Peers()
	out := make([]PeerStatus, 0, len(peers))
	for _, p := range peers {
		out = append(out, PeerStatus{ID: p.ID, Relation: p.Relation, Prefix: n.routes.Prefix(p), State: n.stateLocked(p.ID)})
	}
	return out
}

func (n *Node) stateLocked(id string) State {
	if _, ok := n.sessions[id]; ok {
		return Connected
	}
	if _, ok := n.locals[id]; ok {
		return Connected
	}
	return Disconnected
}

func (n *Node) startClientLocked(p routing.Peer) {
	ctx, cancel := context.WithCancel(n.ctx)
	n.clients[p.ID] = cancel
	c := &btp.Client{
		// With a DialToken every redial mints a fresh token: a signed one given once would expire.
		Dial: btp.DialConfig{URL: p.BTPURL, Token: p.AuthToken, TokenFunc: p.DialToken, Control: p.DialControl,
			PeerID: p.ID, Session: n.sessionConfig(), TLSConfig: n.cfg.DialTLS},
		Backoff:   n.cfg.Backoff,
		OnSession: n.track,
	}
	n.runs.Go(func() { c.Run(ctx) })
}

func (n *Node) stopClientLocked(id string) {
	if cancel, ok := n.clients[id]; ok {
		cancel()
		delete(n.clients, id)
	}
}

// track makes s the session for its peer until it ends.
func (n *Node) track(s *btp.Session) {
	id := s.PeerID()
	n.mu.Lock()
	if _, known := n.routes.Get(id); !known || n.closed {
		n.mu.Unlock()
		n.log.Warn("closing a BTP session from a peer that is not configured", "peer", id)
		_ = s.Close()
		return
	}
	n.sessions[id] = s
	n.all[s] = struct{}{}
	n.updateGaugeLocked()
	n.mu.Unlock()
	n.log.Info("peer connected", "peer", id)
	go func() {
		<-s.Done()
		n.mu.Lock()
		if n.sessions[id] == s {
			delete(n.sessions, id)
		}
		delete(n.all, s)
		n.updateGaugeLocked()
		n.mu.Unlock()
		n.log.Info("peer disconnected", "peer", id, "reason", s.Err())
	}()
}

func (n *Node) updateGauge() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.updateGaugeLocked()
}

func (n *Node) updateGaugeLocked() {
	var up, down float64
	for _, p := range n.routes.Peers() {
		if n.stateLocked(p.ID) == Connected {
			up++
		} else {
			down++
		}
	}
	n.metrics.Peers.WithLabelValues(string(Connected)).Set(up)
	n.metrics.Peers.WithLabelValues(string(Disconnected)).Set(down)
}

// errNoSession means the next hop is configured but not connected; the pipeline answers T01.
var errNoSession = errors.New("node: peer not connected")

// SendPrepare delivers a Prepare to a peer: in process for a local peer, else on its BTP session.
// It is the pipeline's next hop.
func (n *Node) SendPrepare(ctx context.Context, peerID string, prepare []byte) ([]byte, error) {
	n.mu.RLock()
	s, ok := n.sessions[peerID]
	h, local := n.locals[peerID]
	n.mu.RUnlock()
	switch {
	case ok:
		return s.SendPrepare(ctx, prepare)
	case local:
		return h.HandlePrepare(ctx, n.cfg.Address, prepare), nil
	default:
		return nil, fmt.Errorf("send to %s: %w", peerID, errNoSession)
	}
}

// Close stops accepting peers and packets, lets the packets in flight finish until ctx is done, and closes
// every connection. The ledger is the caller's to close.
func (n *Node) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	all := make([]*btp.Session, 0, len(n.all))
	for s := range n.all {
		all = append(all, s)
	}
	n.mu.Unlock()
	// Drain every session before closing any: a packet handled on one waits for its next hop on another.
	err := btp.DrainAll(ctx, all)
	err = errors.Join(err, n.server.Shutdown(ctx))
	n.cancel() // outgoing clients close their (drained) sessions
	done := make(chan struct{})
	go func() { n.runs.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("close node: outgoing sessions still open: %w", ctx.Err()))
	}
	n.mu.Lock()
	for s := range n.all {
		_ = s.Close()
	}
	clear(n.sessions)
	clear(n.all)
	n.updateGaugeLocked()
	n.mu.Unlock()
	return err
}
