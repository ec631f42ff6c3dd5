package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/m2mnet/m2m/connector/config"
	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/metrics"
	"github.com/m2mnet/m2m/connector/node"
	"github.com/m2mnet/m2m/connector/routing"
	"github.com/m2mnet/m2m/stack"
)

// This file is where the parts of the connector built in other packages plug into serve: the ILP node serving
// BTP (connector/node) and peer discovery (connector/discovery). serve needs only Close and PeerCounts.

// The connector's asset, told to children through ILDCP. There is no setting for it yet.
const (
	assetCode  = "USD"
	assetScale = 6
)

// btpNode is what serve needs from connector/node.
type btpNode interface {
	Start(ctx context.Context) error
	Serve(ctx context.Context, ln net.Listener) error
	Peers() []node.PeerStatus
	Close(ctx context.Context) error
}

type services struct {
	node    btpNode
	stop    context.CancelFunc
	serving sync.WaitGroup
	log     *slog.Logger
}

// startServices builds the node with the static peers of PEERS_FILE and serves BTP on BTP_PORT.
func startServices(ctx context.Context, cfg config.Config, bind string, l ledger.Ledger, m *metrics.Metrics, log *slog.Logger) (*services, error) {
	var peers []routing.Peer
	if cfg.PeersFile != "" {
		var err error
		if peers, err = routing.LoadPeersFile(cfg.PeersFile); err != nil {
			return nil, err
		}
	}
	for i := range peers {
		if peers[i].CreditLimit == 0 {
			peers[i].CreditLimit = cfg.DefaultCreditLimit
		}
	}
	n, err := node.New(node.Config{Address: cfg.ILPAddress, AssetCode: assetCode, AssetScale: assetScale, Peers: peers},
		l, m, log.With("component", "node"))
	if err != nil {
		return nil, err
	}
	ln, err := listen(bind, cfg.BTPPort, stack.BTPPort, "BTP peering")
	if err != nil {
		return nil, err
	}
	if err := n.Start(ctx); err != nil {
		ln.Close()
		n.Close(ctx)
		return nil, fmt.Errorf("start the node's static peers (PEERS_FILE): %w", err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	s := &services{node: n, stop: stop, log: log}
	s.serving.Go(func() {
		if err := n.Serve(runCtx, ln); err != nil {
			log.Error("BTP server stopped", "error", err.Error())
		}
	})
	log.Info("BTP listening", "addr", ln.Addr().String(), "staticPeers", len(peers))
	if cfg.Discovery.Enabled {
		// PLUG-IN POINT (peer discovery): connector/discovery.Client needs a PeerSink that turns discovered
		// peers into node peers with identity tokens, and node.Config.Authenticate set to the client's
		// Authenticator. Until that adapter exists the node runs with its static peers only.
		log.Warn("PEER_DISCOVERY_ENABLED=true but peer discovery is not wired into serve in this build; using static peers only")
	}
	return s, nil
}

// PeerCounts counts the node's connected peers; discovered is 0 until discovery is wired in.
func (s *services) PeerCounts() (connected, discovered int) {
	for _, p := range s.node.Peers() {
		if p.State == node.Connected {
			connected++
		}
	}
	return connected, 0
}

// Close drains the node's in-flight packets and closes its sessions, bounded by ctx.
func (s *services) Close(ctx context.Context) error {
	err := s.node.Close(ctx)
	s.stop()
	done := make(chan struct{})
	go func() { s.serving.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("BTP server still running: %w", ctx.Err()))
	}
	return err
}
