package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/m2mnet/m2m/connector/ilp"
	"github.com/m2mnet/m2m/internal/atomicfile"
)

// Registry defaults.
const (
	DefaultTTL          = 120 * time.Second
	DefaultRateLimit    = 5.0 // writes (announce, DELETE) per second per client network
	DefaultRateBurst    = 30
	DefaultReadRate     = 10.0 // reads (GET) per second per client network
	DefaultReadBurst    = 60
	DefaultMaxNodes     = 10000
	DefaultMaxPerClient = 32 // node ids registered from one client network (IPv4 address, IPv6 /64)
	DefaultMaxClockSkew = 5 * time.Minute
	// DefaultMaxFutureSkew is how far ahead of the registry's clock a signed timestamp may be. It is small:
	// a timestamp ahead of the clock holds off the node's own later messages until the clock catches up.
	DefaultMaxFutureSkew = 30 * time.Second
	DefaultKeyRetention  = 30 * 24 * time.Hour
	DefaultFlushEvery    = 10 * time.Second
	maxBodyBytes         = 16 << 10
	shutdownGrace        = 10 * time.Second
)

// RegistryConfig configures a Registry; zero fields take the defaults above.
type RegistryConfig struct {
	// DataDir holds the state file (StateFileName). Required.
	DataDir string
	// TTL is the re-announce period promised to nodes; a node unseen for 2×TTL is no longer listed.
	TTL time.Duration
	// RateLimit and RateBurst bound writes (announce, DELETE) per client network (token bucket);
	// ReadRate and ReadBurst bound reads. A client network is an IPv4 address or an IPv6 /64.
	RateLimit float64
	RateBurst int
	ReadRate  float64
	ReadBurst int
	// TrustedProxies are the networks whose X-Forwarded-For names the client; from anyone else it is ignored.
	TrustedProxies []netip.Prefix
	// MaxNodes bounds how many node ids (key bindings) the registry keeps; MaxPerClient how many of them one
	// client network may have registered. When full, entries that are not listed any more make room, those
	// never seen again after their first announcement first.
	MaxNodes     int
	MaxPerClient int
	// Hints complete the answers to a full registry or a client over its quota (cmd/ names its flags there).
	Hints LimitHints
	// Mirrors are other registries whose change feed this one pulls and serves, after verifying each entry.
	Mirrors []string
	// HTTPClient is used to pull mirrors; defaults to a client with a 10 s timeout.
	HTTPClient *http.Client
	// MaxClockSkew is how old a signed announcement's or DELETE's timestamp may be; MaxFutureSkew how far
	// ahead of the registry's clock.
	MaxClockSkew  time.Duration
	MaxFutureSkew time.Duration
	// NetworkPrefix is the ILP prefix of the network (default DefaultNetworkPrefix): node <id> may announce
	// exactly the address <NetworkPrefix>.<id>.
	NetworkPrefix string
	// Origin is the registry's public origin (scheme://host[:port]) that signatures must name. Empty means
	// the origin the request was sent to (its Host header, https when the connection is TLS); set it when
	// a proxy in front changes the scheme or host.
	Origin string
	// AllowPrivate accepts btpEndpoints on loopback, private and link-local addresses (a private network,
	// tests). Off, such endpoints are refused, since every node would dial them.
	AllowPrivate bool
	// KeyRetention is how long a node id stays bound to its key after the node was last seen.
	KeyRetention time.Duration
	// FlushEvery is how often queued lastSeen refreshes are written out and mirrors are pulled.
	// Registrations, key bindings and deregistrations are on disk before they are answered.
	FlushEvery time.Duration
	// Now is the clock; tests pass a controllable one. Defaults to time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// LimitHints say how an operator lifts a limit; the registry appends them to its refusals.
type LimitHints struct {
	MaxNodes, MaxPerClient string
}

// Registry is the peer discovery service: an http.Handler over the nodes it knows, kept in DataDir.
type Registry struct {
	cfg     RegistryConfig
	log     *slog.Logger
	reads   *rateLimiter
	writes  *rateLimiter
	journal *journal
	mirrors []*mirror
	closing atomic.Bool

	mu        sync.Mutex
	nodes     map[string]*record
	byKey     map[string]string // public key → the one node id it holds
	perClient map[string]int    // client network → node ids it registered
	feed      changeFeed
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
	cfg.ReadRate = orDefault(cfg.ReadRate, DefaultReadRate)
	cfg.ReadBurst = orDefault(cfg.ReadBurst, DefaultReadBurst)
	cfg.MaxNodes = orDefault(cfg.MaxNodes, DefaultMaxNodes)
	cfg.MaxPerClient = orDefault(cfg.MaxPerClient, DefaultMaxPerClient)
	cfg.MaxClockSkew = orDefault(cfg.MaxClockSkew, DefaultMaxClockSkew)
	cfg.MaxFutureSkew = orDefault(cfg.MaxFutureSkew, DefaultMaxFutureSkew)
	cfg.NetworkPrefix = orDefault(cfg.NetworkPrefix, DefaultNetworkPrefix)
	if err := ilp.ValidPrefix(cfg.NetworkPrefix); err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrBadNetworkPrefix, cfg.NetworkPrefix, err)
	}
	if cfg.Origin != "" {
		o, err := originOf(cfg.Origin)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadOrigin, err)
		}
		cfg.Origin = o
	}
	cfg.KeyRetention = orDefault(cfg.KeyRetention, DefaultKeyRetention)
	cfg.FlushEvery = orDefault(cfg.FlushEvery, DefaultFlushEvery)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultRequestTimeout}
	}
	removed := removeStaleTemps(cfg.DataDir)
	st, err := loadState(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	j, err := openJournal(cfg.DataDir, st.logLen)
	if err != nil {
		return nil, err
	}
	r := &Registry{
		cfg:       cfg,
		log:       cfg.Logger,
		reads:     newRateLimiter(cfg.ReadRate, cfg.ReadBurst, cfg.Now),
		writes:    newRateLimiter(cfg.RateLimit, cfg.RateBurst, cfg.Now),
		journal:   j,
		nodes:     st.nodes,
		byKey:     map[string]string{},
		perClient: map[string]int{},
	}
	r.feed.load(st)
	for id, rec := range r.nodes {
		r.byKey[rec.PublicKey] = id
		if rec.From != "" {
			r.perClient[rec.From]++
		}
	}
	for _, u := range cfg.Mirrors {
		m, err := newMirror(r, u)
		if err != nil {
			j.close()
			return nil, err
		}
		r.mirrors = append(r.mirrors, m)
	}
	// A fresh snapshot at start: it records the epoch and leaves an empty log.
	if err := r.save(); err != nil {
		j.close()
		return nil, err
	}
	r.log.Info("discovery registry state loaded", "dir", cfg.DataDir, "nodes", len(r.nodes), "staleTempFilesRemoved", removed,
		"networkPrefix", cfg.NetworkPrefix, "allowPrivate", cfg.AllowPrivate)
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
	r.pullMirrors(ctx)
	tick := time.NewTicker(r.cfg.FlushEvery)
	defer tick.Stop()
	for {
		select {
		case err := <-errc:
			return errors.Join(fmt.Errorf("discovery registry on %s: %w", ln.Addr(), err), r.Close())
		case <-tick.C:
			r.maintain()
			r.pullMirrors(ctx)
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
	return errors.Join(r.save(), r.journal.close())
}

// maintain runs every FlushEvery: write queued lastSeen refreshes, publish expiries to the change feed, forget
// idle rate-limit buckets and the key bindings of nodes unseen for KeyRetention, and compact the log once it
// outgrows the snapshot.
func (r *Registry) maintain() {
	r.reads.sweep()
	r.writes.sweep()
	now := r.cfg.Now()
	cutoff := now.Add(-r.cfg.KeyRetention).UnixMilli()
	r.mu.Lock()
	r.sweepExpired(now, true)
	for id, rec := range r.nodes {
		if rec.LastSeen < cutoff {
			r.forget(rec)
			r.log.Info("forgot node unseen for the key retention period", "nodeId", id, "retention", r.cfg.KeyRetention)
		}
	}
	n := len(r.nodes)
	r.mu.Unlock()
	if err := r.journal.flush(); err != nil {
		r.log.Error("write registry log", "err", err)
	}
	// ~400 bytes a record: compact once the log holds about two snapshots' worth, and at least 4 MB.
	if r.journal.logSize() > max(4<<20, int64(n)*800) {
		if err := r.save(); err != nil {
			r.log.Error("compact registry log", "err", err)
		}
	}
}

// save writes a snapshot of the current state and empties the log.
func (r *Registry) save() error {
	return r.journal.compact(func() stateFile {
		r.mu.Lock()
		defer r.mu.Unlock()
		st := stateFile{Epoch: r.feed.epoch, Floor: r.feed.floor, Nodes: make([]record, 0, len(r.nodes))}
		for _, rec := range r.nodes {
			st.Nodes = append(st.Nodes, *rec) // Capabilities are replaced, never changed in place
		}
		return st
	})
}

// live reports whether a record is listed: announced, not deregistered, and seen within 2×TTL.
func (r *Registry) live(rec *record, now time.Time) bool {
	return !rec.Deleted && now.Sub(time.UnixMilli(rec.LastSeen)) <= 2*r.cfg.TTL
}

// Typed configuration errors, for cmd/ to name its flags.
var (
	ErrBadNetworkPrefix = errors.New("invalid network prefix")
	ErrBadOrigin        = errors.New("invalid registry origin")
)

// removeStaleTemps deletes the temp files that writes interrupted by a crash left behind (the state file
// itself is replaced by rename, so it is never partial) and returns how many there were. Releases before the
// snapshot went through atomicfile named them .registry.json.*.tmp; those go too.
func removeStaleTemps(dir string) int {
	n, _ := atomicfile.RemoveStale(filepath.Join(dir, StateFileName))
	legacy, _ := filepath.Glob(filepath.Join(dir, "."+StateFileName+".*.tmp"))
	for _, f := range legacy {
		if os.Remove(f) == nil {
			n++
		}
	}
	return n
}

// originOf is the origin a signature names for a registry at base: scheme://host[:port], lower case.
func originOf(base string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s is not an http:// or https:// URL, e.g. https://discovery.example.com", quoteShort(base))
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// requestOrigin is the origin a request was signed for: the configured one, else where it was sent.
func (r *Registry) requestOrigin(req *http.Request) string {
	if r.cfg.Origin != "" {
		return r.cfg.Origin
	}
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	return strings.ToLower(scheme + "://" + req.Host)
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
