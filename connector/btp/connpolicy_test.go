package btp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// serveHTTP serves h with the BTP port's policy on 127.0.0.1 and returns the address.
func serveHTTP(t *testing.T, p ConnPolicy, refusals *RefusalLog) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("a plain request reached the handler") }), p, refusals, nil)
	go srv.Serve(LimitListener(ln, p.MaxConnsPerIP, refusals))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// closedByServer reads from c until the server closes it (or 5 s pass) and says whether it did.
func closedByServer(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return err == nil || !(errors.As(err, &ne) && ne.Timeout())
}

func TestPlainHTTPAnswersCloseTheConnection(t *testing.T) {
	addr := serveHTTP(t, ConnPolicy{}, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !resp.Close {
		t.Fatal("answer to a keep-alive request does not say Connection: close")
	}
	if !closedByServer(c) {
		t.Fatal("the server kept the connection open after a non-upgrade answer")
	}
}

func TestSilentConnectionIsClosedAfterTheHeaderTimeout(t *testing.T) {
	addr := serveHTTP(t, ConnPolicy{HeaderTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond}, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if !closedByServer(c) {
		t.Fatal("a connection that sent nothing was not closed")
	}
	t.Logf("silent connection closed after %s", time.Since(start).Round(time.Millisecond))
}

func TestPerIPCapRefusesTheConnectionOverIt(t *testing.T) {
	var refused atomic.Int64
	addr := serveHTTP(t, ConnPolicy{MaxConnsPerIP: 2, HeaderTimeout: time.Minute}, NewRefusalLog(nil, func(reason string) {
		if reason == RefusedPerIP {
			refused.Add(1)
		}
	}))
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// Connections are accepted in the order they arrive: by the time the third is, the first two hold
	// their places (they send nothing, and the header timeout is a minute).
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if !closedByServer(third) || refused.Load() != 1 {
		t.Fatalf("third connection from one IP with a cap of 2: refused count %d", refused.Load())
	}
	held[0].Close()
	// The place held[0] had is free once the server has seen it close; the next connection gets it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
		_, err = http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a place freed by a closed connection was never given again")
		}
	}
}

// logLines is a slog destination whose records a test can count as they arrive.
type logLines struct {
	mu   sync.Mutex
	recs []map[string]any
	buf  bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var rec map[string]any
	if json.Unmarshal(p, &rec) == nil {
		l.recs = append(l.recs, rec)
	}
	return len(p), nil
}

func (l *logLines) find(msg, remote string) map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		if r["msg"] == msg && r["remote"] == remote {
			return r
		}
	}
	return nil
}

func (l *logLines) count() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.recs) }

func TestRefusalsAreLoggedOncePerAddressPerWindowAndAllCounted(t *testing.T) {
	lines := &logLines{}
	var counted atomic.Int64
	l := NewRefusalLog(slog.New(slog.NewJSONHandler(lines, nil)), func(string) { counted.Add(1) })
	l.window = 200 * time.Millisecond
	for i := range 2000 {
		reason := RefusedAuth
		if i%2 == 1 {
			reason = RefusedNotUpgrade
		}
		l.Refused("203.0.113.9:"+strings.Repeat("1", 1+i%4), reason, errors.New("token refused"))
	}
	l.Refused("198.51.100.1:4000", RefusedPerIP, nil)
	if n := counted.Load(); n != 2001 {
		t.Fatalf("counted %d refusals, want 2001", n)
	}
	if n := lines.count(); n != 2 {
		t.Fatalf("%d log lines for 2001 refusals from two addresses inside the window, want 2 (one per address)", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	var summary map[string]any
	for summary == nil && time.Now().Before(deadline) {
		summary = lines.find("refused more BTP connections from one address", "203.0.113.9")
		time.Sleep(10 * time.Millisecond)
	}
	if summary == nil || summary["count"] != float64(1999) {
		t.Fatalf("summary line after the window: %v, want count 1999", summary)
	}
	if lines.find("refused more BTP connections from one address", "198.51.100.1") != nil {
		t.Error("a summary was logged for an address refused once")
	}
}
