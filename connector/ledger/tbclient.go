//go:build cgo

package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tb "github.com/tigerbeetle/tigerbeetle-go"
)

// tbConn holds the shared TigerBeetle client and replaces it when the cluster stops answering.
//
// The client never times out and never reports a network error: a call to an unreachable cluster blocks until
// the client is closed. Closing it fails every queued and in-flight call of every caller and costs a new session
// registration, so it is closed only on the ledger's own staleness rule — a call has waited `stale` and nothing
// at all came back from the cluster meanwhile — never because one caller's deadline passed. A caller that gives
// up gets its own error; its call stays queued on the client, watched for staleness.
//
// A new client is built by one builder goroutine, outside every caller's budget (DNS, because TigerBeetle takes
// only IP literals and the container behind the name may have moved, then NewClient). Callers wait for it with
// their own deadline.
type tbConn struct {
	clusterID tb.Uint128
	peers     []tbPeer // one per replica, in replica order
	stale     time.Duration
	log       *slog.Logger
	lookup    func(ctx context.Context, host string) ([]netip.Addr, error)

	mu       sync.Mutex
	cur      *tbGen   // nil while none is usable
	building *tbBuild // the build under way, if any
	gens     uint64   // counts clients built
	closed   bool
	closing  sync.WaitGroup // builds and Close calls still running
}

// tbGen is one client and what the staleness rule needs to know about it.
type tbGen struct {
	client    tb.Client
	n         uint64
	addr      string
	lastReply atomic.Int64 // UnixNano of the latest reply from the cluster, or of the build
	discarded atomic.Bool
}

type tbBuild struct {
	done chan struct{} // closed when gen or err is set
	gen  *tbGen
	err  error
}

var errLedgerClosed = errors.New("ledger: closed")

// get returns the current client, waiting with ctx for the builder when there is none.
func (c *tbConn) get(ctx context.Context) (*tbGen, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errLedgerClosed
	}
	if g := c.cur; g != nil {
		c.mu.Unlock()
		return g, nil
	}
	b := c.startBuildLocked()
	c.mu.Unlock()
	select {
	case <-b.done:
		return b.gen, b.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// startBuildLocked returns the build under way, starting one if there is none.
func (c *tbConn) startBuildLocked() *tbBuild {
	if c.building != nil {
		return c.building
	}
	b := &tbBuild{done: make(chan struct{})}
	c.building = b
	c.closing.Add(1)
	go c.build(b)
	return b
}

// build resolves the host and makes a client; NewClient returns at once and registers in the background.
func (c *tbConn) build(b *tbBuild) {
	defer c.closing.Done()
	ctx, cancel := context.WithTimeout(context.Background(), c.stale)
	addr, err := c.resolve(ctx)
	cancel()
	var client tb.Client
	if err == nil {
		client, err = tb.NewClient(c.clusterID, strings.Split(addr, ","))
		if err != nil {
			err = fmt.Errorf("tigerbeetle client for %s (%s): %w", c.configured(), addr, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.building = nil
	switch {
	case err != nil:
		b.err = err
	case c.closed:
		c.closeClient(client)
		b.err = errLedgerClosed
	default:
		c.gens++
		g := &tbGen{client: client, n: c.gens, addr: addr}
		g.lastReply.Store(time.Now().UnixNano())
		c.cur, b.gen = g, g
		c.log.Info("tigerbeetle client built", "address", c.configured(), "ip", addr, "generation", g.n)
	}
	close(b.done)
}

// tbPeer is one replica's configured address.
type tbPeer struct {
	host string
	port uint16
}

// resolve turns every configured host into one IP:port, preferring IPv4, and joins them with commas in
// replica order: the list TigerBeetle's client takes.
func (c *tbConn) resolve(ctx context.Context) (string, error) {
	out := make([]string, len(c.peers))
	for i, p := range c.peers {
		a, err := c.resolveOne(ctx, p)
		if err != nil {
			return "", err
		}
		out[i] = a
	}
	return strings.Join(out, ","), nil
}

func (c *tbConn) resolveOne(ctx context.Context, p tbPeer) (string, error) {
	if ip, err := netip.ParseAddr(p.host); err == nil {
		return netip.AddrPortFrom(ip.Unmap(), p.port).String(), nil
	}
	ips, err := c.lookup(ctx, p.host)
	if err != nil {
		return "", fmt.Errorf("resolve TigerBeetle host %q (TIGERBEETLE_ADDRESS): %w", p.host, err)
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("resolve TigerBeetle host %q (TIGERBEETLE_ADDRESS): no addresses", p.host)
	}
	best := ips[0]
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			best = ip
			break
		}
	}
	return netip.AddrPortFrom(best.Unmap(), p.port).String(), nil
}

func (c *tbConn) configured() string {
	out := make([]string, len(c.peers))
	for i, p := range c.peers {
		out[i] = net.JoinHostPort(p.host, strconv.Itoa(int(p.port)))
	}
	return strings.Join(out, ",")
}

// discard closes g, if it is still the current client, and starts building its successor at once.
func (c *tbConn) discard(g *tbGen, why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != g {
		return
	}
	g.discarded.Store(true)
	c.cur = nil
	c.log.Warn("tigerbeetle client discarded; building a new one", "ip", g.addr, "generation", g.n, "reason", why)
	c.closeClient(g.client)
	if !c.closed {
		c.startBuildLocked()
	}
}

// closeClient closes client in the background: Close waits for the client's I/O thread, and fails the client's
// pending calls with ErrClientClosed.
func (c *tbConn) closeClient(client tb.Client) {
	c.closing.Add(1)
	go func() {
		defer c.closing.Done()
		client.Close()
	}()
}

// close closes the current client and waits, at most until ctx is done, for every build and Close to finish.
func (c *tbConn) close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	if g := c.cur; g != nil {
		c.cur = nil
		c.closeClient(g.client)
	}
	c.mu.Unlock()
	done := make(chan struct{})
	go func() { c.closing.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close tigerbeetle client: %w", ctx.Err())
	}
}

// silentSince reports whether nothing came back from the cluster on g since t.
func (g *tbGen) silentSince(t time.Time) bool { return g.lastReply.Load() < t.UnixNano() }

// watch applies the staleness rule to one call submitted on g at submitted, until finished is closed: each time
// the call has waited c.stale, g is discarded if the cluster sent nothing to anyone in that time.
func (c *tbConn) watch(g *tbGen, submitted time.Time, timer *time.Timer, finished <-chan struct{}) {
	defer timer.Stop()
	for {
		select {
		case <-finished:
			return
		case <-timer.C:
			if c.checkStale(g, submitted, timer) {
				return
			}
		}
	}
}

// checkStale discards g when it has been silent for the whole of the last c.stale, else re-arms timer.
// It reports whether g was discarded.
func (c *tbConn) checkStale(g *tbGen, submitted time.Time, timer *time.Timer) bool {
	since := time.Now().Add(-c.stale)
	if since.Before(submitted) {
		since = submitted
	}
	if g.silentSince(since) {
		c.discard(g, fmt.Sprintf("no reply from the cluster to anyone for %s", c.stale))
		return true
	}
	timer.Reset(c.stale)
	return false
}

// call runs fn on the current client. It returns when fn does or when ctx ends, whichever is first; in the
// second case the call stays queued on the client and is still watched, and the client is left alone.
func call[T any](ctx context.Context, c *tbConn, op string, fn func(tb.Client) (T, error)) (T, error) {
	var zero T
	g, err := c.get(ctx)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return zero, fmt.Errorf("tigerbeetle %s: waiting for a client: %w", op, err)
		case errors.Is(err, errLedgerClosed):
			return zero, fmt.Errorf("tigerbeetle %s: %w", op, err)
		}
		return zero, unanswered{fmt.Errorf("tigerbeetle %s: %w", op, err)}
	}
	if ctx.Err() != nil { // a request nobody waits for would still be applied: do not send it
		return zero, fmt.Errorf("tigerbeetle %s: not sent: %w", op, context.Cause(ctx))
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1) // buffered: a reply after the caller left must not block
	finished := make(chan struct{})
	submitted := time.Now()
	go func() {
		v, err := fn(g.client)
		if err == nil {
			g.lastReply.Store(time.Now().UnixNano())
		}
		done <- result{v, err}
		close(finished)
	}()
	timer := time.NewTimer(c.stale)
	for {
		select {
		case r := <-done:
			timer.Stop()
			if r.err != nil {
				return zero, c.clientError(g, op, r.err)
			}
			return r.v, nil
		case <-timer.C:
			c.checkStale(g, submitted, timer)
		case <-ctx.Done():
			go c.watch(g, submitted, timer, finished)
			if cause := context.Cause(ctx); errors.Is(cause, context.DeadlineExceeded) {
				return zero, fmt.Errorf("tigerbeetle %s at %s: no answer in time: %w", op, c.configured(), cause)
			}
			return zero, fmt.Errorf("tigerbeetle %s: %w", op, context.Cause(ctx))
		}
	}
}

// clientError turns an error of the client (not a result code) into the ledger's; an evicted session never
// executes another request, so its client is discarded.
func (c *tbConn) clientError(g *tbGen, op string, err error) error {
	switch {
	case errors.Is(err, tb.ErrClientEvicted), errors.Is(err, tb.ErrClientReleaseTooLow), errors.Is(err, tb.ErrClientReleaseTooHigh):
		c.discard(g, "session evicted: "+err.Error())
		return unanswered{fmt.Errorf("tigerbeetle %s at %s: %w: %w", op, c.configured(), errNoAnswer, err)}
	case errors.Is(err, tb.ErrClientClosed) && g.discarded.Load():
		return unanswered{fmt.Errorf("tigerbeetle %s at %s: %w: the cluster sent nothing for %s and the client was rebuilt (is TigerBeetle up, and is TIGERBEETLE_CLUSTER_ID its cluster?)",
			op, c.configured(), errNoAnswer, c.stale)}
	case errors.Is(err, tb.ErrClientClosed):
		return fmt.Errorf("tigerbeetle %s: %w", op, errLedgerClosed)
	}
	return fmt.Errorf("tigerbeetle %s: %w", op, err)
}
