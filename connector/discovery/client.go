package discovery

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/connector/metrics"
)

// Client defaults.
const (
	DefaultInterval        = 60 * time.Second
	DefaultRequestTimeout  = 10 * time.Second
	DefaultConnectTimeout  = 15 * time.Second
	DefaultConnectAttempts = 5
	DefaultBackoffMin      = time.Second
	DefaultBackoffMax      = 30 * time.Second
	DefaultRetryAfter      = 5 * time.Minute
	// minOnDemandRefresh bounds the fetches an unknown peer's connection attempt can cause.
	minOnDemandRefresh = 5 * time.Second
	deregisterTimeout  = 5 * time.Second
)

// Peer is a discovered node, as handed to the PeerSink.
type Peer struct {
	NodeID      string
	BTPEndpoint string
	ILPAddress  string
	PublicKey   ed25519.PublicKey
	// Inbound is a peer that dialled this node (it chose this node, this node did not choose it): the Sink
	// adds it without dialling back. A peer this node chose is dialled.
	Inbound bool
}

// PeerSink takes the peers discovery finds; the node implements it. AddPeer returns nil once the peer is
// connected (or the node has taken it over and keeps it connected itself). The client calls AddPeer again
// for a peer only after an error (with backoff) or when the peer's registry entry changes.
type PeerSink interface {
	AddPeer(ctx context.Context, p Peer) error
}

// PeerChecker is implemented by a PeerSink that knows whether a peer's session is up. The client then
// counts live sessions as connected, and hands a peer that has been down for a whole Interval to AddPeer
// again, which lets the sink renew what it gave the node (such as a time-limited token).
type PeerChecker interface {
	Connected(nodeID string) bool
}

// PeerRemover is implemented by a PeerSink that can drop a peer. The client calls it for a peer it handed
// over once that peer is no longer listed by the registries that answer (deregistered or expired); a
// registry that is down keeps its last answer, so an outage removes nothing.
type PeerRemover interface {
	RemovePeer(nodeID string)
}

// ClientConfig configures a Client; zero durations and counts take the defaults above.
type ClientConfig struct {
	// Endpoints are the registries' base URLs, e.g. http://discovery:9000.
	Endpoints []string
	// Self is what this node announces (nodeId, btpEndpoint, ilpAddress, capabilities, version). Its
	// ilpAddress must be <NetworkPrefix>.<nodeId>.
	Self PeerInfo
	// NetworkPrefix is the prefix every discovered node's address must sit directly under; empty means
	// Self's address without its last segment.
	NetworkPrefix string
	// StaticPrefixes are the routing prefixes of the peers file (and any other route this node holds). A
	// discovered peer whose address equals, covers or sits under one of them, or this node's own address,
	// is dropped: discovery never takes over a route the operator configured.
	StaticPrefixes []string
	// AllowPrivate accepts peers whose btpEndpoint is on loopback, private or link-local addresses.
	// Off, they are dropped here, and a Sink should dial with DialControl to check resolved addresses.
	AllowPrivate bool
	// Key is the node's identity (NODE_PRIVATE_KEY); it signs announcements and the DELETE on shutdown.
	Key  ed25519.PrivateKey
	Sink PeerSink
	// Interval between announcements (PEER_DISCOVERY_INTERVAL); keep it well inside the registry's TTL.
	Interval        time.Duration
	RequestTimeout  time.Duration // per registry request
	ConnectTimeout  time.Duration // per AddPeer call
	ConnectAttempts int           // AddPeer tries before giving up on a peer for RetryAfter
	BackoffMin      time.Duration // wait after the first failed try, doubled per try up to BackoffMax
	BackoffMax      time.Duration
	RetryAfter      time.Duration
	// MaxPeers is how many discovered peers this node chooses to connect to (PEER_DISCOVERY_MAX_PEERS;
	// default DefaultMaxPeers); see connect.go for how they are chosen.
	MaxPeers   int
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Metrics, when set, gets m2m_peers{state="discovered"} and m2m_dependency_up{dependency="discovery"}.
	Metrics *metrics.Metrics
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// Client announces this node to the registries, learns the other nodes and hands them to the Sink.
type Client struct {
	cfg       ClientConfig
	log       *slog.Logger
	endpoints []*endpoint
	conns     *connector

	syncMu      sync.Mutex // one fetch-and-merge at a time
	lastRefresh time.Time

	signMu     sync.Mutex
	lastSigned time.Time // registries refuse a message not newer than the last one they accepted

	mu     sync.Mutex
	view   map[string]PeerInfo          // merged, deduplicated, without self
	pinned map[string]ed25519.PublicKey // first key seen per node id
	// dropped holds, per node id, why its registry entry is ignored; logged once per peer and reason.
	dropped map[string]string
}

// endpoint is one registry and what the client last heard from it.
type endpoint struct {
	base, display string
	origin        string     // what announcements and DELETEs to this registry are signed for
	down          bool       // in an outage: warned once, quiet until it answers again
	rejection     string     // last refusal of our announcement, logged once per distinct message
	peers         []PeerInfo // last successful fetch
	fetched       bool
	ttlWarned     bool
	feed          *feedReader // paged listing, then the change feed (feedclient.go)
}

// NewClient checks the configuration; Run starts the work.
func NewClient(cfg ClientConfig) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("peer discovery has no registry endpoints; set PEER_DISCOVERY_ENDPOINTS or disable discovery")
	}
	if err := cfg.Self.Validate(); err != nil {
		return nil, fmt.Errorf("this node's announcement is invalid: %w", err)
	}
	if cfg.NetworkPrefix == "" {
		cfg.NetworkPrefix = strings.TrimSuffix(cfg.Self.ILPAddress, "."+cfg.Self.NodeID)
	}
	if err := cfg.Self.CheckOwnership(cfg.NetworkPrefix); err != nil {
		return nil, fmt.Errorf("this node's announcement is invalid: %w", err)
	}
	if !cfg.AllowPrivate {
		if err := cfg.Self.CheckTarget(); err != nil {
			return nil, fmt.Errorf("this node's announcement is invalid: %w", err)
		}
	}
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("peer discovery needs the node key (NODE_PRIVATE_KEY); run `m2mctl init` to generate one")
	}
	if cfg.Sink == nil {
		return nil, errors.New("peer discovery needs a PeerSink to hand discovered peers to")
	}
	cfg.Interval = orDefault(cfg.Interval, DefaultInterval)
	cfg.RequestTimeout = orDefault(cfg.RequestTimeout, DefaultRequestTimeout)
	cfg.ConnectTimeout = orDefault(cfg.ConnectTimeout, DefaultConnectTimeout)
	cfg.ConnectAttempts = orDefault(cfg.ConnectAttempts, DefaultConnectAttempts)
	cfg.BackoffMin = orDefault(cfg.BackoffMin, DefaultBackoffMin)
	cfg.BackoffMax = orDefault(cfg.BackoffMax, DefaultBackoffMax)
	cfg.RetryAfter = orDefault(cfg.RetryAfter, DefaultRetryAfter)
	cfg.MaxPeers = orDefault(cfg.MaxPeers, DefaultMaxPeers)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Client{cfg: cfg, log: cfg.Logger, view: map[string]PeerInfo{}, pinned: map[string]ed25519.PublicKey{}, dropped: map[string]string{}}
	for _, e := range cfg.Endpoints {
		u, err := url.Parse(strings.TrimSpace(e))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("discovery endpoint %s is not an http:// or https:// URL, e.g. http://discovery:9000", quoteShort(e))
		}
		base := strings.TrimRight(u.String(), "/")
		origin, _ := originOf(base)
		c.endpoints = append(c.endpoints, &endpoint{base: base, display: u.Redacted(), origin: origin,
			feed: newFeedReader(base, cfg.HTTPClient, false, cfg.RequestTimeout)})
	}
	c.conns = newConnector(cfg, c.log)
	return c, nil
}

// Run announces at once and then every Interval, merging what the registries know and handing new peers
// to the Sink, until ctx is done; it then deregisters this node (signed DELETE) and returns. Registries
// that cannot be reached are retried on the next tick: they never stop the node.
func (c *Client) Run(ctx context.Context) error {
	tick := time.NewTicker(c.cfg.Interval)
	defer tick.Stop()
	for {
		c.sync(ctx, true)
		select {
		case <-ctx.Done():
			c.conns.wait()
			c.deregister()
			return nil
		case <-tick.C:
		}
	}
}

// Counts returns how many peers discovery knows (m2m_peers{state="discovered"}) and how many of them are
// connected: accepted by the Sink and, when it is a PeerChecker, with a live session.
func (c *Client) Counts() (discovered, connected int) {
	c.mu.Lock()
	discovered = len(c.view)
	c.mu.Unlock()
	return discovered, c.conns.connected()
}

// Peers returns the merged view of the registries, without this node.
func (c *Client) Peers() []PeerInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]PeerInfo, 0, len(c.view))
	for _, p := range c.view {
		out = append(out, p)
	}
	return out
}

// KeyFor returns the public key the registries bound to nodeID (the first one this client saw).
func (c *Client) KeyFor(nodeID string) (ed25519.PublicKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.pinned[nodeID]
	return k, ok
}

// Authenticator returns the BTP server's Authenticate func (node.Config.Authenticate). It accepts a signed
// token (identity.NewToken) made for this node by a peer whose key is in static (keys from the peers file,
// consulted first) or held by the registries; a token from a node not known yet triggers one fetch from the
// registries (at most every 5 s) before it is refused. Any other token (a peers file's shared authToken)
// goes to fallback, the node's own check, and is refused when fallback is nil.
func (c *Client) Authenticator(static identity.KeyLookup, fallback func(ctx context.Context, token string) (string, error)) func(ctx context.Context, token string) (peerID string, err error) {
	keys := identity.FirstKey(static, c.KeyFor)
	self := c.cfg.Self.NodeID
	return func(ctx context.Context, token string) (string, error) {
		if !identity.IsSignedToken(token) {
			if fallback == nil {
				return "", identity.ErrMalformedToken
			}
			return fallback(ctx, token)
		}
		id, err := identity.VerifyToken(token, self, c.cfg.Now(), keys)
		if errors.Is(err, identity.ErrUnknownNode) && c.refreshAllowed() {
			c.sync(ctx, false)
			id, err = identity.VerifyToken(token, self, c.cfg.Now(), keys)
		}
		if err == nil {
			err = c.acceptInbound(ctx, id) // a discovered peer that chose this node
		}
		return id, err
	}
}

func (c *Client) refreshAllowed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	if now.Sub(c.lastRefresh) < minOnDemandRefresh {
		return false
	}
	c.lastRefresh = now
	return true
}

// sync announces (when asked) and fetches at every registry in parallel, then merges and schedules connects.
func (c *Client) sync(ctx context.Context, announce bool) {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	var wg sync.WaitGroup
	for _, e := range c.endpoints {
		wg.Go(func() {
			var err error
			if announce {
				err = c.announce(ctx, e)
			}
			if err == nil {
				if _, err = e.feed.poll(ctx); err == nil {
					e.peers, e.fetched = e.feed.infos(), true
				}
			}
			if ctx.Err() == nil {
				c.noteReachability(e, err)
			}
		})
	}
	wg.Wait()
	c.merge()
	if announce {
		// Only the Run loop's context may outlive a connection attempt; an on-demand refresh runs on a
		// BTP handshake's context, so its new peers wait for the next tick.
		c.conns.schedule(ctx, c.Peers(), c.KeyFor)
	}
	c.publishMetrics()
}

// signingTime is the time to sign a message with: the clock, or 1 ms after the last message signed when
// the clock has not moved past it (a coarse or stepped-back clock), since registries accept only newer ones.
func (c *Client) signingTime() time.Time {
	c.signMu.Lock()
	defer c.signMu.Unlock()
	t := c.cfg.Now()
	if !t.After(c.lastSigned) {
		t = c.lastSigned.Add(time.Millisecond)
	}
	c.lastSigned = t
	return t
}

// errRejected is a registry refusing our announcement: reachable, but something for the operator to fix.
type errRejected struct {
	status int
	msg    string
}

func (e *errRejected) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.msg) }

func (c *Client) announce(ctx context.Context, e *endpoint) error {
	self := c.cfg.Self
	self.LastSeen, self.PublicKey = 0, ""
	if self.Capabilities == nil {
		self.Capabilities = []string{}
	}
	body, err := json.Marshal(self)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, e.base+announcePath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	ts, sig := identity.SignMessage(c.cfg.Key, identity.PurposeAnnounce, e.origin, c.signingTime(), body)
	req.Header.Set(HeaderPublicKey, identity.EncodePublicKey(c.cfg.Key.Public().(ed25519.PublicKey)))
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, sig)
	var ans struct {
		Success bool `json:"success"`
		TTL     int  `json:"ttl"`
	}
	if err := c.do(ctx, req, &ans); err != nil {
		return err
	}
	if ttl := time.Duration(ans.TTL) * time.Second; ttl > 0 && c.cfg.Interval >= ttl && !e.ttlWarned {
		e.ttlWarned = true
		c.log.Warn("peer discovery interval is not shorter than the registry's TTL; this node will drop out between announcements",
			"registry", e.display, "interval", c.cfg.Interval, "ttl", ttl)
	}
	return nil
}

// do sends req with the request timeout and decodes a 200 answer into v; other answers become errors.
func (c *Client) do(ctx context.Context, req *http.Request, v any) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req.Header.Set("Accept", "application/json")
	resp, err := c.cfg.HTTPClient.Do(req.WithContext(ctx))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		if e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return fmt.Errorf("HTTP %d: %s", resp.StatusCode, e.Error)
		}
		return &errRejected{resp.StatusCode, e.Error}
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("answer is not the expected JSON: %w", err)
	}
	return nil
}
