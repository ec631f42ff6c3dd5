// Package config turns the stack's validated settings into what the connector process needs, typed.
package config

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/m2mnet/m2m/stack"
)

// Config is the connector's configuration. Secrets are held as Secret, which never prints.
type Config struct {
	NodeID     string
	ILPAddress string // g.m2m.<NODE_ID> when ILP_ADDRESS is empty
	LogLevel   slog.Level

	SettleEVM bool
	SettleXRP bool
	EVMRPCURL string // BASE_RPC_URL; may carry an API key in its path: show it through chain.Redact
	XRPLURL   string // XRPL_WSS_URL; likewise

	Ledger string // "tigerbeetle" or "memory"
	// TigerBeetleClusterID is the decimal u128 from TIGERBEETLE_CLUSTER_ID.
	TigerBeetleClusterID string
	TigerBeetleAddress   string // host:port, resolved by the ledger
	DefaultCreditLimit   uint64

	BTPPort    int
	HealthPort int
	PeersFile  string

	Discovery Discovery

	NodePrivateKey Secret // ed25519 seed, 32 bytes; empty when discovery is off and none was given
	OTLPEndpoint   string
}

// Discovery is the peer discovery part of the configuration.
type Discovery struct {
	Enabled         bool
	Endpoints       []string
	AnnounceAddress string
	Interval        time.Duration
}

// Secret holds key material. It formats and logs as "[redacted]" so that printing a Config is always safe.
type Secret []byte

func (Secret) String() string               { return "[redacted]" }
func (Secret) GoString() string             { return "[redacted]" }
func (Secret) LogValue() slog.Value         { return slog.StringValue("[redacted]") }
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Ledger values.
const (
	LedgerTigerBeetle = "tigerbeetle"
	LedgerMemory      = "memory"
)

// FromEnviron validates the connector's settings in environ (os.Environ's form). On failure the error is the
// stack's *stack.Problems, naming every problem at once.
func FromEnviron(environ []string) (Config, error) {
	own := ownSettings()
	v, err := stack.FromEnvironFor(environ, func(s stack.Setting) bool { return own[s.Name] })
	if err != nil {
		return Config{}, err
	}
	return FromValues(v)
}

// ownSettings are the settings that concern the connector process: the ones the stack passes to its container,
// plus the two listening ports, which it takes from the environment when run outside the stack.
func ownSettings() map[string]bool {
	own := map[string]bool{stack.BTPPort: true, stack.HealthCheckPort: true}
	for _, s := range stack.Schema() {
		if slices.Contains(s.Services, stack.ServiceConnector) {
			own[s.Name] = true
		}
	}
	return own
}

// FromValues types already-validated values.
func FromValues(v stack.Values) (Config, error) {
	c := Config{
		NodeID:               v.String(stack.NodeID),
		ILPAddress:           v.String(stack.ILPAddress),
		SettleEVM:            v.Settlement("evm"),
		SettleXRP:            v.Settlement("xrp"),
		EVMRPCURL:            v.String(stack.BaseRPCURL),
		XRPLURL:              v.String(stack.XRPLWSSURL),
		Ledger:               v.String(stack.Ledger),
		TigerBeetleClusterID: v.String(stack.TigerBeetleClusterID),
		TigerBeetleAddress:   v.String(stack.TigerBeetleAddress),
		DefaultCreditLimit:   v.Uint64(stack.DefaultCreditLimit),
		BTPPort:              v.Int(stack.BTPPort),
		HealthPort:           v.Int(stack.HealthCheckPort),
		PeersFile:            v.String(stack.PeersFile),
		OTLPEndpoint:         v.String(stack.OTELExporterOTLPEndpoint),
		Discovery: Discovery{
			Enabled:         v.Bool(stack.PeerDiscoveryEnabled),
			Endpoints:       v.List(stack.PeerDiscoveryEndpoints),
			AnnounceAddress: v.String(stack.PeerAnnounceAddress),
		},
	}
	if c.ILPAddress == "" {
		c.ILPAddress = "g.m2m." + c.NodeID
	}
	if err := c.LogLevel.UnmarshalText([]byte(v.String(stack.LogLevel))); err != nil {
		return Config{}, fmt.Errorf("%s=%s: %w", stack.LogLevel, v.String(stack.LogLevel), err)
	}
	if s := v.String(stack.PeerDiscoveryInterval); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return Config{}, fmt.Errorf("%s=%s: %w", stack.PeerDiscoveryInterval, s, err)
		}
		c.Discovery.Interval = d
	}
	if s := v.String(stack.NodePrivateKey); s != "" {
		seed, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return Config{}, fmt.Errorf("%s is not base64; run m2mctl init to make one", stack.NodePrivateKey)
		}
		c.NodePrivateKey = seed
	}
	return c, nil
}
