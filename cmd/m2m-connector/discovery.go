package main

// Owned by the peer-discovery work (issues 6, 21).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/m2mnet/m2m/connector/config"
	"github.com/m2mnet/m2m/connector/discovery"
)

// discoveryOptions are the flags of `m2m-connector discovery`.
type discoveryOptions struct {
	Listen         string
	DataDir        string
	TTL            time.Duration
	RateLimit      float64
	RateBurst      int
	ReadRate       float64
	ReadBurst      int
	MaxNodes       int
	MaxPerClient   int
	Retention      time.Duration
	TrustedProxies []string
	Mirrors        []string
	Trust          trustOptions // discovery_trust.go
	Stderr         io.Writer
	TLS            config.TLS // serve_tls.go
	tlsNames       tlsNames
}

func newDiscoveryCmd() *cobra.Command {
	opts := &discoveryOptions{}
	cmd := &cobra.Command{
		Use:   "discovery",
		Short: "Run the peer discovery registry",
		Long: "Run the peer discovery registry: nodes announce themselves (signed with their node key) at\n" +
			"POST /api/v1/peers/announce, list each other at GET /api/v1/peers and deregister with a signed\n" +
			"DELETE /api/v1/peers/:nodeId. GET pages (limit, cursor) and follows changes (since, ETag → 304).\n" +
			"State is kept in --data-dir (a snapshot and an append-only log) and survives restarts and kill -9;\n" +
			"SIGTERM drains requests and writes the state out. --mirror pulls other registries' signed entries.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Stderr = cmd.ErrOrStderr()
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			return discoveryRun(ctx, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", ":9000", "address to serve HTTP on")
	f.StringVar(&opts.DataDir, "data-dir", "/data/discovery", "directory for the registry's state (its volume)")
	f.DurationVar(&opts.TTL, "ttl", discovery.DefaultTTL, "re-announce period promised to nodes; entries unseen for 2×TTL are not listed")
	f.Float64Var(&opts.RateLimit, "rate-limit", discovery.DefaultRateLimit, "writes (announce, DELETE) per second allowed per client network (IPv4 address, IPv6 /64)")
	f.IntVar(&opts.RateBurst, "rate-burst", discovery.DefaultRateBurst, "burst of writes allowed per client network")
	f.Float64Var(&opts.ReadRate, "read-rate", discovery.DefaultReadRate, "reads (GET) per second allowed per client network")
	f.IntVar(&opts.ReadBurst, "read-burst", discovery.DefaultReadBurst, "burst of reads allowed per client network")
	f.IntVar(&opts.MaxNodes, "max-nodes", discovery.DefaultMaxNodes, "node ids the registry holds; when full, unlisted ids make room (those never seen again first)")
	f.IntVar(&opts.MaxPerClient, "max-per-client", discovery.DefaultMaxPerClient, "node ids one client network (IPv4 address, IPv6 /64) may register")
	f.DurationVar(&opts.Retention, "retention", discovery.DefaultKeyRetention, "how long a node id stays bound to its key after the node was last seen")
	f.StringSliceVar(&opts.TrustedProxies, "trusted-proxy", nil, "CIDR of a reverse proxy whose X-Forwarded-For names the client (repeat or comma-separate); ignored from anyone else")
	f.StringSliceVar(&opts.Mirrors, "mirror", nil, "URL of another registry whose signed entries this one pulls and serves after verifying them (repeat or comma-separate)")
	addTrustFlags(f, &opts.Trust)
	opts.tlsNames = tlsFlags(f, &opts.TLS)
	return cmd
}

func discoveryRun(ctx context.Context, opts *discoveryOptions) error {
	if opts.TTL < time.Second {
		return fmt.Errorf("--ttl %s is too short; use at least 1s (default %s)", opts.TTL, discovery.DefaultTTL)
	}
	cfg, err := opts.registryConfig()
	if err != nil {
		return err
	}
	log := discoveryLogger(opts.Stderr)
	cfg.Logger = log
	reg, err := discovery.NewRegistry(cfg)
	var mirrorErr *discovery.MirrorURLError
	if errors.As(err, &mirrorErr) {
		return fmt.Errorf("--mirror: %w", err)
	}
	if ferr := trustFlagError(err); ferr != nil {
		return ferr
	}
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w; pass a free address with --listen", opts.Listen, err)
	}
	tw, err := newTLS(opts.TLS, opts.tlsNames, listenHost(opts.Listen), ln.Addr().(*net.TCPAddr).Port, nil, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer tw.close()
	go tw.run(ctx)
	ln = tw.wrap(ln)
	log.Info("discovery registry listening", "addr", ln.Addr().String(), "tls", opts.TLS.Mode, "ttl", opts.TTL, "dataDir", opts.DataDir)
	if err := reg.Serve(ctx, ln); err != nil {
		return err
	}
	log.Info("discovery registry stopped")
	return nil
}

// registryConfig checks the flags and turns them into the registry's configuration; its refusals of a full
// registry or a client over its quota name the flag that lifts the limit.
func (opts *discoveryOptions) registryConfig() (discovery.RegistryConfig, error) {
	cfg := discovery.RegistryConfig{
		DataDir: opts.DataDir, TTL: opts.TTL, RateLimit: opts.RateLimit, RateBurst: opts.RateBurst,
		ReadRate: opts.ReadRate, ReadBurst: opts.ReadBurst, MaxNodes: opts.MaxNodes, MaxPerClient: opts.MaxPerClient,
		KeyRetention: opts.Retention, Mirrors: opts.Mirrors,
		Hints: discovery.LimitHints{
			MaxNodes:     fmt.Sprintf("its operator can raise --max-nodes (now %d)", opts.MaxNodes),
			MaxPerClient: fmt.Sprintf("the registry's operator can raise --max-per-client (now %d), or use --trusted-proxy if clients come through a proxy", opts.MaxPerClient),
		},
	}
	opts.Trust.apply(&cfg)
	for _, n := range []struct {
		flag string
		v    int
	}{{"--max-nodes", opts.MaxNodes}, {"--max-per-client", opts.MaxPerClient}, {"--rate-burst", opts.RateBurst}, {"--read-burst", opts.ReadBurst}} {
		if n.v < 1 {
			return cfg, fmt.Errorf("%s %d must be at least 1", n.flag, n.v)
		}
	}
	if opts.RateLimit <= 0 || opts.ReadRate <= 0 {
		return cfg, fmt.Errorf("--rate-limit %g and --read-rate %g must be above 0", opts.RateLimit, opts.ReadRate)
	}
	if opts.Retention < 2*opts.TTL {
		return cfg, fmt.Errorf("--retention %s is shorter than twice --ttl (%s): a node id would be freed while its node is still listed; use at least %s", opts.Retention, opts.TTL, 2*opts.TTL)
	}
	for _, c := range opts.TrustedProxies {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			ip, ierr := netip.ParseAddr(strings.TrimSpace(c))
			if ierr != nil {
				return cfg, fmt.Errorf("--trusted-proxy %q is not a CIDR such as 10.0.0.0/8 or 2001:db8::/32, nor an IP address", c)
			}
			p = netip.PrefixFrom(ip, ip.BitLen())
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, p.Masked())
	}
	return cfg, nil
}

// discoveryLogger logs text on a terminal and JSON otherwise (in a container).
func discoveryLogger(w io.Writer) *slog.Logger {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}
