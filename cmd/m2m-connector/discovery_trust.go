package main

// The registry's trust flags (issue 14): which addresses nodes may announce, which origin signatures name,
// and whether private-network endpoints are accepted.

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/m2mnet/m2m/connector/discovery"
	"github.com/m2mnet/m2m/stack/settings"
)

// trustOptions are the flags of `m2m-connector discovery` that decide what the registry accepts.
type trustOptions struct {
	NetworkPrefix string
	Origin        string
	AllowPrivate  lenientBool
}

func addTrustFlags(f *pflag.FlagSet, t *trustOptions) {
	f.StringVar(&t.NetworkPrefix, "network-prefix", discovery.DefaultNetworkPrefix, "ILP prefix of the network: node <id> may announce exactly <prefix>.<id>")
	f.StringVar(&t.Origin, "origin", "", "public URL of this registry that signatures name (scheme://host[:port]); empty: where each request was sent. Set it behind a proxy that changes scheme or host")
	f.Var(&t.AllowPrivate, "allow-private", "accept btpEndpoints on loopback, private and link-local addresses (a private network or a test); the stack sets it from "+settings.PeerDiscoveryAllowPrivate)
	f.Lookup("allow-private").NoOptDefVal = "true"
}

func (t trustOptions) apply(cfg *discovery.RegistryConfig) {
	cfg.NetworkPrefix, cfg.Origin, cfg.AllowPrivate = t.NetworkPrefix, t.Origin, bool(t.AllowPrivate)
}

// trustFlagError names the flag behind a registry configuration error, or returns nil.
func trustFlagError(err error) error {
	switch {
	case errors.Is(err, discovery.ErrBadNetworkPrefix):
		return fmt.Errorf("--network-prefix: %w; give an ILP prefix such as g.m2m", err)
	case errors.Is(err, discovery.ErrBadOrigin):
		return fmt.Errorf("--origin: %w", err)
	}
	return nil
}

// lenientBool is a bool flag that takes the spellings .env takes (true/false, 1/0, yes/no, on/off), so that
// a Compose file can pass a setting through as --flag=${SETTING}.
type lenientBool bool

func (b *lenientBool) Set(s string) error {
	v, err := settings.ParseBool(s)
	*b = lenientBool(v)
	return err
}
func (b *lenientBool) String() string   { return strconv.FormatBool(bool(*b)) }
func (b *lenientBool) Type() string     { return "bool" }
func (b *lenientBool) IsBoolFlag() bool { return true }
