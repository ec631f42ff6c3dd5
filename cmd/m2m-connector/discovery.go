package main

// Owned by the peer-discovery work (issue 6).

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/m2mnet/m2m/connector/discovery"
)

// discoveryOptions are the flags of `m2m-connector discovery`.
type discoveryOptions struct {
	Listen    string
	DataDir   string
	TTL       time.Duration
	RateLimit float64
	RateBurst int
	Stderr    io.Writer
}

func newDiscoveryCmd() *cobra.Command {
	opts := &discoveryOptions{}
	cmd := &cobra.Command{
		Use:   "discovery",
		Short: "Run the peer discovery registry",
		Long: "Run the peer discovery registry: nodes announce themselves (signed with their node key) at\n" +
			"POST /api/v1/peers/announce, list each other at GET /api/v1/peers and deregister with a signed\n" +
			"DELETE /api/v1/peers/:nodeId. State is kept in --data-dir and survives restarts. SIGTERM drains\n" +
			"requests and writes the state out.",
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
	f.Float64Var(&opts.RateLimit, "rate-limit", discovery.DefaultRateLimit, "requests per second allowed per client address on /api/")
	f.IntVar(&opts.RateBurst, "rate-burst", discovery.DefaultRateBurst, "burst of requests allowed per client address")
	return cmd
}

func discoveryRun(ctx context.Context, opts *discoveryOptions) error {
	if opts.TTL < time.Second {
		return fmt.Errorf("--ttl %s is too short; use at least 1s (default %s)", opts.TTL, discovery.DefaultTTL)
	}
	log := discoveryLogger(opts.Stderr)
	reg, err := discovery.NewRegistry(discovery.RegistryConfig{
		DataDir: opts.DataDir, TTL: opts.TTL, RateLimit: opts.RateLimit, RateBurst: opts.RateBurst, Logger: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w; pass a free address with --listen", opts.Listen, err)
	}
	log.Info("discovery registry listening", "addr", ln.Addr().String(), "ttl", opts.TTL, "dataDir", opts.DataDir)
	if err := reg.Serve(ctx, ln); err != nil {
		return err
	}
	log.Info("discovery registry stopped")
	return nil
}

// discoveryLogger logs text on a terminal and JSON otherwise (in a container).
func discoveryLogger(w io.Writer) *slog.Logger {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}
