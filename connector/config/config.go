// Package config turns the stack's validated settings into what the connector process needs, typed.
package config

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/m2mnet/m2m/stack/settings"
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

	BTPPort int
	// BTPMaxConnsPerIP caps the connections one IP holds on the BTP port; 0 means no cap.
	BTPMaxConnsPerIP int
	HealthPort       int
	PeersFile        string

	Discovery Discovery
	TLS       TLS

	NodePrivateKey Secret // ed25519 seed, 32 bytes; empty when discovery is off and none was given
	OTLPEndpoint   string
}

// Discovery is the peer discovery part of the configuration.
type Discovery struct {
	Enabled         bool
	Endpoints       []string
	AnnounceAddress string
	Interval        time.Duration
	MaxPeers        int // PEER_DISCOVERY_MAX_PEERS
	// AllowPrivate lets discovered peers live on loopback, private and link-local addresses.
	AllowPrivate bool
	// PeerCreditLimit is the credit limit of a discovered peer's account while the credit granted to all
	// discovered peers stays within PeersCreditTotal; 0 after that, and 0 by default.
	PeerCreditLimit  uint64
	PeersCreditTotal uint64
}

// TLS is the BTP listener's TLS (BTP_TLS and the settings after it).
type TLS struct {
	Mode              string // acme, files or off
	Domain            string
	Email             string
	CA                string // ACME directory URL
	DataDir           string
	CertFile, KeyFile string
	CAFile            string // extra trusted CAs for dialing out; "" for the system's alone
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
	v, err := settings.FromEnvironFor(environ, func(s settings.Setting) bool { return own[s.Name] })
	if err != nil {
		return Config{}, err
	}
	return FromValues(v)
}

// ownSettings are the settings that concern the connector process: the ones the stack passes to its container,
// plus the two listening ports, which it takes from the environment when run outside the stack.
func ownSettings() map[string]bool {
	own := map[string]bool{settings.BTPPort: true, settings.HealthCheckPort: true}
	for _, s := range settings.Schema() {
		if slices.Contains(s.Services, settings.ServiceConnector) {
			own[s.Name] = true
		}
	}
	return own
}

// FromValues types already-validated values.
func FromValues(v settings.Values) (Config, error) {
	c := Config{
		NodeID:               v.String(settings.NodeID),
		ILPAddress:           v.String(settings.ILPAddress),
		SettleEVM:            v.Settlement("evm"),
		SettleXRP:            v.Settlement("xrp"),
		EVMRPCURL:            v.String(settings.BaseRPCURL),
		XRPLURL:              v.String(settings.XRPLWSSURL),
		Ledger:               v.String(settings.Ledger),
		TigerBeetleClusterID: v.String(settings.TigerBeetleClusterID),
		TigerBeetleAddress:   v.String(settings.TigerBeetleAddress),
		DefaultCreditLimit:   v.Uint64(settings.DefaultCreditLimit),
		BTPMaxConnsPerIP:     v.Int(settings.BTPMaxConnectionsPerIP),
		BTPPort:              v.Int(settings.BTPPort),
		HealthPort:           v.Int(settings.HealthCheckPort),
		PeersFile:            v.String(settings.PeersFile),
		OTLPEndpoint:         v.String(settings.OTELExporterOTLPEndpoint),
		TLS: TLS{Mode: v.String(settings.BTPTLS), Domain: v.String(settings.BTPDomain), Email: v.String(settings.ACMEEmail),
			CA: v.String(settings.ACMECA), DataDir: v.String(settings.ACMEDataDir), CertFile: v.String(settings.BTPTLSCertFile),
			KeyFile: v.String(settings.BTPTLSKeyFile), CAFile: v.String(settings.TLSCAFile)},
		Discovery: Discovery{
			Enabled:          v.Bool(settings.PeerDiscoveryEnabled),
			Endpoints:        v.List(settings.PeerDiscoveryEndpoints),
			AnnounceAddress:  v.String(settings.PeerAnnounceAddress),
			AllowPrivate:     v.Bool(settings.PeerDiscoveryAllowPrivate),
			PeerCreditLimit:  v.Uint64(settings.DiscoveredPeerCreditLimit),
			PeersCreditTotal: v.Uint64(settings.DiscoveredPeersCreditTotal),
			MaxPeers:         v.Int(settings.PeerDiscoveryMaxPeers),
		},
	}
	if c.ILPAddress == "" {
		c.ILPAddress = "g.m2m." + c.NodeID
	}
	if err := c.LogLevel.UnmarshalText([]byte(v.String(settings.LogLevel))); err != nil {
		return Config{}, fmt.Errorf("%s=%s: %w", settings.LogLevel, v.String(settings.LogLevel), err)
	}
	if s := v.String(settings.PeerDiscoveryInterval); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return Config{}, fmt.Errorf("%s=%s: %w", settings.PeerDiscoveryInterval, s, err)
		}
		c.Discovery.Interval = d
	}
	if s := v.String(settings.NodePrivateKey); s != "" {
		seed, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return Config{}, fmt.Errorf("%s is not base64; run m2mctl init to make one", settings.NodePrivateKey)
		}
		c.NodePrivateKey = seed
	}
	return c, nil
}
