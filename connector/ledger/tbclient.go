package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	tb "github.com/tigerbeetle/tigerbeetle-go"
)

// tbConn holds the current TigerBeetle client and replaces it when it stops answering.
//
// The client never times out and never reports a network error: a call to an unreachable cluster blocks
// forever. So every call runs in its own goroutine under a deadline, and a client whose call missed its deadline
// is closed (which fails its pending calls with ErrClientClosed, ending those goroutines) and built again on the
// next call — from a fresh DNS lookup, because TigerBeetle only takes IP literals and the container behind the
// name may have moved.
type tbConn struct {
	clusterID tb.Uint128
	host      string
	port      uint16
	log       *slog.Logger
	lookup    func(ctx context.Context, host string) ([]netip.Addr, error)

	mu      sync.Mutex
	client  tb.Client
	gen     uint64 // counts clients built; a failure discards only the client it happened on
	addr    string // the IP:port the current client was built with
	closed  bool
	closing sync.WaitGroup // Close calls of discarded clients still running
}

var errLedgerClosed = errors.New("ledger: closed")

// get returns the current client, building one if there is none.
func (c *tbConn) get(ctx context.Context) (tb.Client, uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, 0, errLedgerClosed
	}
	if c.client != nil {
		return c.client, c.gen, nil
	}
	addr, err := c.resolve(ctx)
	if err != nil {
		return nil, 0, err
	}
	client, err := tb.NewClient(c.clusterID, []string{addr})
	if err != nil {
		return nil, 0, fmt.Errorf("tigerbeetle client for %s (%s): %w", c.configured(), addr, err)
	}
	c.gen++
	c.client, c.addr = client, addr
	c.log.Info("tigerbeetle client built", "address", c.configured(), "ip", addr, "generation", c.gen)
	return client, c.gen, nil
}

// resolve turns the configured host into one IP:port, preferring IPv4.
func (c *tbConn) resolve(ctx context.Context) (string, error) {
	if ip, err := netip.ParseAddr(c.host); err == nil {
		return netip.AddrPortFrom(ip.Unmap(), c.port).String(), nil
	}
	ips, err := c.lookup(ctx, c.host)
	if err != nil {
		return "", fmt.Errorf("resolve TigerBeetle host %q (TIGERBEETLE_ADDRESS): %w", c.host, err)
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("resolve TigerBeetle host %q (TIGERBEETLE_ADDRESS): no addresses", c.host)
	}
	best := ips[0]
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			best = ip
			break
		}
	}
	return netip.AddrPortFrom(best.Unmap(), c.port).String(), nil
}

func (c *tbConn) configured() string { return net.JoinHostPort(c.host, strconv.Itoa(int(c.port))) }

// discard closes the client of generation gen, if it is still the current one, so the next call builds anew.
func (c *tbConn) discard(gen uint64, why error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == nil || c.gen != gen {
		return
	}
	c.log.Warn("tigerbeetle client discarded; the next call builds a new one", "ip", c.addr, "generation", gen, "reason", why.Error())
	c.closeLocked()
}

func (c *tbConn) closeLocked() {
	client := c.client
	c.client = nil
	c.closing.Add(1)
	// Close waits for the client's I/O thread; do not hold the caller (or the lock) on it.
	go func() {
		defer c.closing.Done()
		client.Close()
	}()
}

// close closes the current client and waits, at most until ctx is done, for every Close to finish.
func (c *tbConn) close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	if c.client != nil {
		c.closeLocked()
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

// call runs fn on the current client under timeout (and ctx). A call that misses its deadline or fails at the
// client level (evicted, closed) discards the client; result codes in a successful reply are fn's to read.
func call[T any](ctx context.Context, c *tbConn, timeout time.Duration, op string, fn func(tb.Client) (T, error)) (T, error) {
	var zero T
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client, gen, err := c.get(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return zero, fmt.Errorf("tigerbeetle %s: %w: %w", op, errTimeout, err)
		}
		return zero, fmt.Errorf("tigerbeetle %s: %w", op, err)
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1) // buffered: a late reply must not block the goroutine forever
	go func() {
		v, err := fn(client)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			c.discard(gen, r.err)
			return zero, fmt.Errorf("tigerbeetle %s: %w", op, r.err)
		}
		return r.v, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			c.discard(gen, fmt.Errorf("%s got no answer in time", op))
			return zero, fmt.Errorf("tigerbeetle %s at %s: %w (is TigerBeetle up, and is TIGERBEETLE_CLUSTER_ID its cluster?)",
				op, c.configured(), errTimeout)
		}
		return zero, fmt.Errorf("tigerbeetle %s: %w", op, ctx.Err())
	}
}
