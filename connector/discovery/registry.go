package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Registry defaults.
const (
	DefaultTTL          = 120 * time.Second
	DefaultRateLimit    = 5.0 // requests per second per client address
	DefaultRateBurst    = 30
	DefaultMaxNodes     = 10000
	DefaultMaxClockSkew = 5 * time.Minute
	DefaultKeyRetention = 30 * 24 * time.Hour
	DefaultFlushEvery   = 10 * time.Second
	maxBodyBytes        = 16 << 10
	shutdownGrace       = 10 * time.Second
)

// RegistryConfig configures a Registry; zero fields take the defaults above.
type RegistryConfig struct {
	// DataDir holds the state file (StateFileName). Required.
	DataDir string
	// TTL is the re-announce period promised to nodes; a node unseen for 2×TTL is no longer listed.
	TTL time.Duration
	// RateLimit and RateBurst bound requests to /api/ per client address (token bucket).
	RateLimit float64
	RateBurst int
	// MaxNodes bounds how many node ids (key bindings) the registry keeps.
	MaxNodes int
	// MaxClockSkew is how far a signed DELETE's timestamp may be from the registry's clock.
	MaxClockSkew time.Duration
	// KeyRetention is how long a node id stays bound to its key after the node was last seen.
	KeyRetention time.Duration
	// FlushEvery is how often lastSeen refreshes are written out. Registrations, key bindings and
	// deregistrations are written before they are answered.
	FlushEvery time.Duration
	// Now is the clock; tests pass a controllable one. Defaults to time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Registry is the peer discovery service: an http.Handler over the nodes it knows, kept in DataDir.
type Registry struct {
	cfg     RegistryConfig
	log     *slog.Logger
	limiter *rateLimiter
	closing atomic.Bool

	mu    sync.Mutex
	nodes map[string]*record
	dirty bool // lastSeen changed since the last write

	writeMu sync.Mutex // serialises writes so the newest snapshot is the one left on disk
}

// NewRegistry loads the state in cfg.DataDir (creating the directory if needed).
func NewRegistry(cfg RegistryConfig) (*Registry, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("registry data directory is not set; pass --data-dir (the registry's volume)")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create registry data directory %s: %w", cfg.DataDir, err)
	}
	cfg.TTL = orDefault(cfg.TTL, DefaultTTL)
	cfg.RateLimit = orDefault(cfg.RateLimit, DefaultRateLimit)
	cfg.RateBurst = orDefault(cfg.RateBurst, DefaultRateBurst)
	cfg.MaxNodes = orDefault(cfg.MaxNodes, DefaultMaxNodes)
	cfg.MaxClockSkew = orDefault(cfg.MaxClockSkew, DefaultMaxClockSkew)
	cfg.KeyRetention = orDefault(cfg.KeyRetention, DefaultKeyRetention)
	cfg.FlushEvery = orDefault(cfg.FlushEvery, DefaultFlushEvery)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	nodes, err := loadState(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	r := &Registry{
		cfg:     cfg,
		log:     cfg.Logger,
		limiter: newRateLimiter(cfg.RateLimit, cfg.RateBurst, cfg.Now),
		nodes:   nodes,
	}
	r.log.Info("discovery registry state loaded", "dir", cfg.DataDir, "nodes", len(nodes))
	return r, nil
}

// Serve answers on ln until ctx is done, then shuts down gracefully: new requests get 503, requests in
// flight finish (up to 10 s), and the state is written out.
func (r *Registry) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	tick := time.NewTicker(r.cfg.FlushEvery)
	defer tick.Stop()
	for {
		select {
		case err := <-errc:
			return errors.Join(fmt.Errorf("discovery registry on %s: %w", ln.Addr(), err), r.Close())
		case <-tick.C:
			r.maintain()
		case <-ctx.Done():
			r.closing.Store(true)
			r.log.Info("discovery registry shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			err := srv.Shutdown(sctx)
			cancel()
			return errors.Join(err, r.Close())
		}
	}
}

// Close makes the registry answer 503 from now on and writes its state out.
func (r *Registry) Close() error {
	r.closing.Store(true)
	return r.save()
}

// maintain runs every FlushEvery: write lastSeen refreshes, forget idle rate-limit buckets and drop the key
// bindings of nodes unseen for KeyRetention.
func (r *Registry) maintain() {
	r.limiter.sweep()
	cutoff := r.cfg.Now().Add(-r.cfg.KeyRetention).UnixMilli()
	r.mu.Lock()
	for id, rec := range r.nodes {
		if rec.LastSeen < cutoff {
			delete(r.nodes, id)
			r.dirty = true
			r.log.Info("forgot node unseen for the key retention period", "nodeId", id, "retention", r.cfg.KeyRetention)
		}
	}
	dirty := r.dirty
	r.mu.Unlock()
	if dirty {
		if err := r.save(); err != nil {
			r.log.Error("write registry state", "err", err)
		}
	}
}

// save writes the current state.
func (r *Registry) save() error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.mu.Lock()
	recs := make([]record, 0, len(r.nodes))
	for _, rec := range r.nodes {
		c := *rec
		c.Capabilities = append([]string(nil), rec.Capabilities...)
		recs = append(recs, c)
	}
	r.dirty = false
	r.mu.Unlock()
	if err := writeState(r.cfg.DataDir, recs); err != nil {
		r.mu.Lock()
		r.dirty = true
		r.mu.Unlock()
		return err
	}
	return nil
}

// live reports whether a record is listed: announced, not deregistered, and seen within 2×TTL.
func (r *Registry) live(rec *record, now time.Time) bool {
	return !rec.Deleted && now.Sub(time.UnixMilli(rec.LastSeen)) <= 2*r.cfg.TTL
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
