package btp

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// maxUnflushed bounds what writers may queue before they wait for the socket: the backpressure of a peer
// that stops reading reaches them instead of memory growing.
const maxUnflushed = 1 << 20

// coalescingConn gathers the WebSocket frames that concurrent packets write and sends them in one syscall.
// The WebSocket library flushes every message on its own, so under load each packet cost a write syscall
// per hop; here a writer only appends and a flusher goroutine writes whatever has gathered. When idle the
// cost is one goroutine wake-up.
type coalescingConn struct {
	net.Conn
	kick chan struct{}
	done chan struct{}
	wmu  sync.Mutex // held while writing to the socket: the flusher and Close never interleave

	mu     sync.Mutex
	space  *sync.Cond
	buf    []byte
	spare  []byte
	err    error
	closed bool
}

func newCoalescingConn(c net.Conn) *coalescingConn {
	cc := &coalescingConn{Conn: c, kick: make(chan struct{}, 1), done: make(chan struct{})}
	cc.space = sync.NewCond(&cc.mu)
	go cc.flushLoop()
	return cc
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	for c.err == nil && len(c.buf) > maxUnflushed {
		c.space.Wait()
	}
	if c.err != nil {
		c.mu.Unlock()
		return 0, c.err
	}
	c.buf = append(c.buf, p...)
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default: // a flush is already due and will take these bytes too
	}
	return len(p), nil
}

func (c *coalescingConn) flushLoop() {
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		// Let the goroutines that are about to write (answers being sent back) run first, so one syscall
		// takes all their frames. With nothing else runnable this returns at once.
		runtime.Gosched()
		c.wmu.Lock()
		c.mu.Lock()
		b := c.buf
		c.buf = c.spare[:0]
		c.mu.Unlock()
		var err error
		if len(b) > 0 {
			_, err = c.Conn.Write(b)
		}
		c.wmu.Unlock()
		c.mu.Lock()
		c.spare = b
		if err != nil && c.err == nil {
			c.err = err
		}
		c.space.Broadcast()
		c.mu.Unlock()
	}
}

// Close sends what is still queued (a close frame, typically), bounded by a second, then closes the socket.
func (c *coalescingConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.space.Broadcast()
	c.mu.Unlock()
	c.wmu.Lock()
	c.mu.Lock()
	rest := c.buf
	c.buf = nil
	c.mu.Unlock()
	if len(rest) > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Conn.Write(rest)
	}
	c.wmu.Unlock()
	return c.Conn.Close()
}

// coalescingWriter makes the connection that the WebSocket library hijacks a coalescingConn.
type coalescingWriter struct {
	http.ResponseWriter
}

func (w coalescingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil { // nothing should be buffered, but never drop bytes
		return nil, nil, err
	}
	cc := newCoalescingConn(conn)
	return cc, bufio.NewReadWriter(brw.Reader, bufio.NewWriterSize(cc, 4096)), nil
}

// coalescingClient is an HTTP client whose connections, once upgraded to WebSocket, coalesce their writes.
// A non-nil control vets every dialled address, and then no proxy is used; tlsConfig is for wss:// (nil: the
// system's roots).
func coalescingClient(control func(network, address string, c syscall.RawConn) error, tlsConfig *tls.Config) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: control}
	proxy := http.ProxyFromEnvironment
	if control != nil {
		proxy = nil
	}
	return &http.Client{Transport: &http.Transport{
		Proxy: proxy,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return newCoalescingConn(c), nil
		},
		TLSHandshakeTimeout: 10 * time.Second,
		TLSClientConfig:     tlsConfig,
	}}
}
