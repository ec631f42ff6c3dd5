package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/m2mnet/m2m/connector/config"
	"github.com/m2mnet/m2m/connector/discovery"
	"github.com/m2mnet/m2m/connector/metrics"
)

// newDiscoveryClient builds the client that announces this node (PEER_ANNOUNCE_ADDRESS, signed with
// NODE_PRIVATE_KEY) to PEER_DISCOVERY_ENDPOINTS every PEER_DISCOVERY_INTERVAL and hands the nodes it finds
// to sink. A registry that cannot be reached is logged once per outage and never stops the node.
func newDiscoveryClient(cfg config.Config, key ed25519.PrivateKey, sink discovery.PeerSink, static []string, m *metrics.Metrics, log *slog.Logger, hc *http.Client) (*discovery.Client, error) {
	interval := cfg.Discovery.Interval
	if interval <= 0 {
		interval = discovery.DefaultInterval
	}
	c, err := discovery.NewClient(discovery.ClientConfig{
		Endpoints: cfg.Discovery.Endpoints,
		Self: discovery.PeerInfo{NodeID: cfg.NodeID, BTPEndpoint: cfg.Discovery.AnnounceAddress, ILPAddress: cfg.ILPAddress,
			Capabilities: capabilities(cfg), Version: version},
		StaticPrefixes: static, AllowPrivate: cfg.Discovery.AllowPrivate,
		Key: key, Sink: sink, Interval: interval, MaxPeers: cfg.Discovery.MaxPeers, Metrics: m, Logger: log, HTTPClient: hc,
	})
	switch {
	case errors.Is(err, discovery.ErrAddressNotOwned):
		return nil, fmt.Errorf("%w; with discovery a node's %s must be <network prefix>.%s (leave it empty for g.m2m.%s)",
			err, settings.ILPAddress, settings.NodeID, cfg.NodeID)
	case errors.Is(err, discovery.ErrInternalTarget):
		return nil, fmt.Errorf("%w; set %s to a public name or address, or %s=true on a private network",
			err, settings.PeerAnnounceAddress, settings.PeerDiscoveryAllowPrivate)
	case err != nil:
		return nil, err
	}
	if d := cfg.Discovery; d.PeerCreditLimit > d.PeersCreditTotal {
		log.Warn("discovered peers get no credit: the total is smaller than one peer's limit", "perPeer", d.PeerCreditLimit,
			"total", d.PeersCreditTotal, "fix", "raise "+settings.DiscoveredPeersCreditTotal)
	}
	log.Info("peer discovery enabled", "registries", len(cfg.Discovery.Endpoints), "announce", cfg.Discovery.AnnounceAddress,
		"ilpAddress", cfg.ILPAddress, "interval", interval.String(), "maxPeers", cfg.Discovery.MaxPeers, "allowPrivate", cfg.Discovery.AllowPrivate,
		"creditPerPeer", cfg.Discovery.PeerCreditLimit, "creditTotal", cfg.Discovery.PeersCreditTotal)
	return c, nil
}

// capabilities are the settlement capabilities announced, from SETTLEMENT_PREFERENCE.
func capabilities(cfg config.Config) []string {
	caps := []string{}
	if cfg.SettleEVM {
		caps = append(caps, "evm-settlement")
	}
	if cfg.SettleXRP {
		caps = append(caps, "xrp-settlement")
	}
	return caps
}
