package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/config"
	"github.com/m2mnet/m2m/connector/discovery"
	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/metrics"
	"github.com/m2mnet/m2m/connector/node"
	"github.com/m2mnet/m2m/connector/pipeline"
	"github.com/m2mnet/m2m/connector/routing"
)

// This file is where the parts of the connector built in other packages plug into serve: the ILP node serving
// BTP (connector/node) with its static peers, and peer discovery (serve_discovery.go). serve needs only
// Close and PeerCounts.

// The connector's asset, told to children through ILDCP. There is no setting for it yet.
const (
	assetCode  = "USD"
	assetScale = 6
)

// peerCounter is what /health's peer counts need of the discovery client.
type peerCounter interface {
	Counts() (discovered, connected int)
}

type services struct {
	node      *node.Node
	discovery peerCounter        // nil when discovery is off
	stop      context.CancelFunc // stops serving BTP
	serving   sync.WaitGroup
	leave     context.CancelFunc // stops the discovery client, which then deregisters
	stopped   chan struct{}      // closed once it has; nil when discovery is off
	log       *slog.Logger
}

// startServices builds the node with the static peers of PEERS_FILE, serves BTP on BTP_PORT and, when
// PEER_DISCOVERY_ENABLED, runs the discovery client. tracer is nil when tracing is off.
func startServices(ctx context.Context, cfg config.Config, bind string, l ledger.Ledger, m *metrics.Metrics, log *slog.Logger, tracer pipeline.Tracer, tw tlsWiring) (*services, error) {
	key, err := nodeKey(cfg)
	if err != nil {
		return nil, err
	}
	peers, keys, err := staticPeers(cfg, key)
	if err != nil {
		return nil, err
	}
	var n *node.Node
	// The node's own check of the peers file's shared tokens; n is set before any connection is served.
	shared := func(ctx context.Context, token string) (string, error) { return n.CheckSharedToken(ctx, token) }
	var client *discovery.Client
	var sink *nodeSink
	auth := staticAuthenticator(cfg.NodeID, keys, shared)
	if cfg.Discovery.Enabled {
		dlog := log.With("component", "discovery")
		sink = &nodeSink{self: cfg.NodeID, key: key, static: isStatic(peers),
			credit: newCreditBudget(cfg.Discovery.PeerCreditLimit, cfg.Discovery.PeersCreditTotal, l, dlog)}
		if !cfg.Discovery.AllowPrivate {
			sink.dialControl = discovery.DialControl
		}
		if client, err = newDiscoveryClient(cfg, key, sink, staticPrefixes(peers), m, dlog, tw.httpClient()); err != nil {
			return nil, err
		}
		auth = client.Authenticator(keys, shared)
	}
	ncfg := node.Config{Address: cfg.ILPAddress, AssetCode: assetCode, AssetScale: assetScale, Peers: peers, Authenticate: auth,
		Conn:     btp.ConnPolicy{MaxConnsPerIP: cfg.BTPMaxConnsPerIP},
		Pipeline: pipeline.Config{Tracer: tracer}, DialTLS: tw.dial}
	if n, err = node.New(ncfg, l, m, log.With("component", "node")); err != nil {
		return nil, err
	}
	ln, err := listen(bind, cfg.BTPPort, settings.BTPPort, "BTP peering")
	if err != nil {
		return nil, err
	}
	if err := n.Start(ctx); err != nil {
		ln.Close()
		n.Close(ctx)
		return nil, fmt.Errorf("start the node's static peers (PEERS_FILE): %w", err)
	}
	ln = tw.wrap(ln)
	runCtx, stop := context.WithCancel(context.Background())
	s := &services{node: n, stop: stop, leave: func() {}, log: log}
	s.serving.Go(func() {
		if err := n.Serve(runCtx, ln); err != nil {
			log.Error("BTP server stopped", "error", err.Error())
		}
	})
	log.Info("BTP listening", "addr", ln.Addr().String(), "scheme", tw.scheme(), "staticPeers", len(peers))
	m.Peers.WithLabelValues("discovered").Set(0)
	if client != nil {
		sink.node = n
		var dctx context.Context
		dctx, s.leave = context.WithCancel(context.Background())
		s.discovery, s.stopped = client, make(chan struct{})
		go func() {
			defer close(s.stopped)
			_ = client.Run(dctx) // returns once dctx is done and this node has deregistered
		}()
	}
	return s, nil
}

// nodeKey decodes NODE_PRIVATE_KEY; nil when it is not set (it is required with discovery, by the schema).
func nodeKey(cfg config.Config) (ed25519.PrivateKey, error) {
	if len(cfg.NodePrivateKey) == 0 {
		if cfg.Discovery.Enabled {
			return nil, errors.New("PEER_DISCOVERY_ENABLED=true needs NODE_PRIVATE_KEY; run `m2mctl init` to generate one")
		}
		return nil, nil
	}
	return identity.ParsePrivateKey(base64.StdEncoding.EncodeToString(cfg.NodePrivateKey))
}

// staticPeers loads PEERS_FILE. A peer given with a publicKey may authenticate with a signed token (keys
// holds those keys); one to dial that has a publicKey but no authToken gets a fresh token signed with this
// node's key for every dial.
func staticPeers(cfg config.Config, key ed25519.PrivateKey) ([]routing.Peer, identity.KeyLookup, error) {
	if cfg.PeersFile == "" {
		return nil, nil, nil
	}
	peers, err := routing.LoadPeersFile(cfg.PeersFile)
	if err != nil {
		return nil, nil, err
	}
	keys := map[string]ed25519.PublicKey{}
	for i := range peers {
		p := &peers[i]
		if p.CreditLimit == 0 {
			p.CreditLimit = cfg.DefaultCreditLimit
		}
		if p.PublicKey == "" {
			continue
		}
		keys[p.ID], _ = identity.ParsePublicKey(p.PublicKey) // validated by LoadPeersFile
		if p.AuthToken == "" && p.BTPURL != "" && p.Relation != routing.RelationChild {
			if key == nil {
				return nil, nil, fmt.Errorf("%s: peer %s has a publicKey but no authToken: set NODE_PRIVATE_KEY so this node can sign its tokens, or give the peer an authToken", cfg.PeersFile, p.ID)
			}
			self, audience := cfg.NodeID, p.ID
			p.DialToken = func() string { return identity.NewToken(key, self, audience, dialTokenTTL) }
		}
	}
	if len(keys) == 0 {
		return peers, nil, nil
	}
	return peers, identity.StaticKeys(keys), nil
}

// staticPrefixes are the routes of the peers file: no discovered peer may take over one of them.
func staticPrefixes(peers []routing.Peer) []string {
	var out []string
	for _, p := range peers {
		if p.ILPPrefix != "" {
			out = append(out, p.ILPPrefix)
		}
	}
	return out
}

func isStatic(peers []routing.Peer) func(string) bool {
	ids := map[string]bool{}
	for _, p := range peers {
		ids[p.ID] = true
	}
	return func(id string) bool { return ids[id] }
}

// staticAuthenticator accepts the peers file's shared tokens and, from peers given with a publicKey,
// tokens signed by that key; nil (the node's own check) when no peer has a key.
func staticAuthenticator(self string, keys identity.KeyLookup, shared func(context.Context, string) (string, error)) func(context.Context, string) (string, error) {
	if keys == nil {
		return nil
	}
	signed := identity.NewAuthenticator(self, keys, nil)
	return func(ctx context.Context, token string) (string, error) {
		if identity.IsSignedToken(token) {
			return signed(ctx, token)
		}
		return shared(ctx, token)
	}
}

// PeerCounts is /health's peers: connected from the node (every peer with a live session, static or
// discovered), discovered from the discovery client (0 when it is off).
func (s *services) PeerCounts() (connected, discovered int) {
	for _, p := range s.node.Peers() {
		if p.State == node.Connected {
			connected++
		}
	}
	if s.discovery != nil {
		discovered, _ = s.discovery.Counts() // note the order: Counts is (discovered, connected)
	}
	return connected, discovered
}

// Close stops discovery (which deregisters this node with a signed DELETE), drains the node's in-flight
// packets and closes its sessions, all bounded by ctx.
func (s *services) Close(ctx context.Context) error {
	s.leave() // the discovery client deregisters while the node drains
	err := s.node.Close(ctx)
	s.stop()
	done := make(chan struct{})
	go func() {
		s.serving.Wait()
		if s.stopped != nil {
			<-s.stopped
		}
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("BTP server or discovery still running: %w", ctx.Err()))
	}
	return err
}
