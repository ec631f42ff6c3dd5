package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/m2mnet/m2m/connector/chain"
	"github.com/m2mnet/m2m/connector/config"
	"github.com/m2mnet/m2m/connector/health"
	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/metrics"
	"github.com/m2mnet/m2m/connector/pipeline"
	"github.com/m2mnet/m2m/connector/tracing"
)

// Timings of the running connector. The shutdown budget keeps SIGTERM → exit inside Docker's default 10 s.
const (
	shutdownBudget     = 8 * time.Second
	ledgerCallTimeout  = 3 * time.Second
	ledgerCheckEvery   = 5 * time.Second
	chainCheckEvery    = 15 * time.Second
	chainCheckTimeout  = 5 * time.Second
	slaWindow          = 5 * time.Minute
	slaSampleEvery     = 10 * time.Second
	startResolveBudget = 2 * time.Second
	traceFlushBudget   = 2 * time.Second
)

type serveOptions struct {
	bind    string // IP to listen on; "" is every interface
	stdout  io.Writer
	environ []string
}

// serveRun runs the connector until ctx is done (SIGTERM), then drains and returns nil.
func serveRun(ctx context.Context, o serveOptions) error {
	cfg, err := config.FromEnviron(o.environ)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(o.stdout, &slog.HandlerOptions{Level: cfg.LogLevel})).With("nodeId", cfg.NodeID)
	slog.SetDefault(log) // libraries that log process-wide (the trace exporter's errors) log like the rest
	started := time.Now()
	// Bind first: a port in use is a configuration problem worth failing on before anything else starts.
	ln, err := listen(o.bind, cfg.HealthPort, settings.HealthCheckPort, "/health and /metrics")
	if err != nil {
		return err
	}
	m := metrics.New(version, commit, runtime.Version())
	tw, err := newTLS(cfg.TLS, tlsSettingNames, o.bind, cfg.BTPPort, m, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer tw.close()
	l, err := openLedger(ctx, cfg, m, log)
	if err != nil {
		ln.Close()
		return err
	}
	mon := health.NewMonitor(m, log, append(dependencies(cfg, l), tw.dependency())...)
	window := health.NewPacketWindow(m.Registry, slaWindow)
	tracer, err := tracing.Setup(ctx, cfg.OTLPEndpoint, "m2m-connector", version)
	if err != nil {
		ln.Close()
		l.Close()
		return err
	}
	var packetTracer pipeline.Tracer // nil when off: the packet path then skips tracing altogether
	if cfg.OTLPEndpoint != "" {
		packetTracer = tracer
		log.Info("exporting a trace span per forwarded packet", "endpoint", chain.Redact(cfg.OTLPEndpoint))
	}
	svc, err := startServices(ctx, cfg, o.bind, l, m, log, packetTracer, tw)
	if err != nil {
		ln.Close()
		l.Close()
		return err
	}
	handler := health.NewHandler(health.Options{Version: version, NodeID: cfg.NodeID, Started: started, Monitor: mon,
		Peers: svc, SLA: window, Metrics: m})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	background, stopBackground := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { mon.Run(background) })
	wg.Go(func() { window.Run(background, slaSampleEvery) })
	wg.Go(func() { tw.run(background) })
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("health server listening", "addr", ln.Addr().String())
	log.Info("connector started", "version", version, "commit", commit, "ilpAddress", cfg.ILPAddress, "ledger", cfg.Ledger,
		"settleEVM", cfg.SettleEVM, "settleXRP", cfg.SettleXRP, "startupMs", time.Since(started).Milliseconds())

	var failed error
	select {
	case <-ctx.Done():
		log.Info("shutting down: draining in-flight work", "budget", shutdownBudget.String())
	case err := <-served:
		failed = fmt.Errorf("health server stopped: %w", err)
		log.Error("health server stopped; shutting down", "error", err.Error())
	}
	stopping := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	handler.Drain()
	if err := svc.Close(sctx); err != nil {
		log.Warn("services did not close cleanly", "error", err.Error())
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("health server did not close cleanly", "error", err.Error())
	}
	tctx, tcancel := context.WithTimeout(sctx, traceFlushBudget)
	if err := tracer.Shutdown(tctx); err != nil {
		log.Warn("traces not flushed", "error", err.Error())
	}
	tcancel()
	stopBackground()
	wg.Wait()
	if err := l.Close(); err != nil {
		log.Warn("ledger did not close cleanly", "error", err.Error())
	}
	log.Info("stopped", "shutdownMs", time.Since(stopping).Milliseconds())
	return failed
}

// listen binds bind:port for what, naming the setting to change when the port is taken.
func listen(bind string, port int, setting, what string) (net.Listener, error) {
	addr := net.JoinHostPort(bind, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s for %s: %w; set %s to a free port", addr, what, err, setting)
	}
	return ln, nil
}

func openLedger(ctx context.Context, cfg config.Config, m *metrics.Metrics, log *slog.Logger) (ledger.Ledger, error) {
	if cfg.Ledger == config.LedgerMemory {
		return ledger.NewMemory(ledger.WithMetrics(m), ledger.WithWarning(log)), nil
	}
	ctx, cancel := context.WithTimeout(ctx, startResolveBudget)
	defer cancel()
	l, err := ledger.NewTigerBeetle(ctx, ledger.Options{ClusterID: cfg.TigerBeetleClusterID, Address: cfg.TigerBeetleAddress,
		CallTimeout: ledgerCallTimeout, Logger: log.With("component", "ledger"), Metrics: m})
	switch {
	case errors.Is(err, ledger.ErrNoTigerBeetle):
		return nil, fmt.Errorf("%w: build m2m-connector with cgo (make build, with gcc installed), or set LEDGER=memory (development only)", err)
	case err != nil:
		return nil, err
	}
	return l, nil
}

// dependencies lists what readiness waits for: the ledger always, each chain only when the node settles on it.
// The dependency keeps the name tigerbeetle with LEDGER=memory, so dashboards need no second series.
func dependencies(cfg config.Config, l ledger.Ledger) []health.Dependency {
	detail := "tigerbeetle at " + cfg.TigerBeetleAddress
	if cfg.Ledger == config.LedgerMemory {
		detail = "memory ledger (development only; balances are lost on restart)"
	}
	deps := []health.Dependency{{Name: "tigerbeetle", Required: true, Interval: ledgerCheckEvery, Timeout: ledgerCallTimeout,
		Check: func(ctx context.Context) (string, error) { return detail, l.Ping(ctx) }}}
	evm := health.Dependency{Name: "evm"}
	if cfg.SettleEVM {
		probe := &chain.EVM{URL: cfg.EVMRPCURL}
		evm = health.Dependency{Name: "evm", Required: true, Interval: chainCheckEvery, Timeout: chainCheckTimeout,
			Check: func(ctx context.Context) (string, error) {
				s, err := probe.Check(ctx)
				return chain.Redact(cfg.EVMRPCURL) + ": " + s.String(), err
			}}
	}
	xrpl := health.Dependency{Name: "xrpl"}
	if cfg.SettleXRP {
		probe := &chain.XRPL{URL: cfg.XRPLURL}
		xrpl = health.Dependency{Name: "xrpl", Required: true, Interval: chainCheckEvery, Timeout: chainCheckTimeout,
			Check: func(ctx context.Context) (string, error) {
				s, err := probe.Check(ctx)
				return chain.Redact(cfg.XRPLURL) + ": " + s.String(), err
			}}
	}
	return append(deps, evm, xrpl)
}
