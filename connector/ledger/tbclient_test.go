//go:build cgo

package ledger_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/ledger"
)

// logRecorder keeps every record logged through it and lets a test wait for one: the ledger's client
// lifecycle (built, discarded) is visible only there.
type logRecorder struct {
	mu      sync.Mutex
	recs    []slog.Record
	changed chan struct{} // closed and replaced on every record
}

func newLogRecorder() *logRecorder { return &logRecorder{changed: make(chan struct{})} }

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	close(h.changed)
	h.changed = make(chan struct{})
	return nil
}

// count returns how many records have message msg and, when gen > 0, attribute generation=gen.
func (h *logRecorder) count(msg string, gen uint64) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.recs {
		if r.Message != msg {
			continue
		}
		match := gen == 0
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "generation" && a.Value.Uint64() == gen {
				match = true
			}
			return true
		})
		if match {
			n++
		}
	}
	return n
}

// countError returns how many ERROR records carry attribute key=value.
func (h *logRecorder) countError(key, value string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.recs {
		if r.Level != slog.LevelError {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key && a.Value.String() == value {
				n++
			}
			return true
		})
	}
	return n
}

// wait blocks until a record with message msg and generation gen has been logged.
func (h *logRecorder) wait(t *testing.T, msg string, gen uint64) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		h.mu.Lock()
		changed := h.changed
		h.mu.Unlock()
		if h.count(msg, gen) > 0 {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no log record %q with generation %d within 30 s", msg, gen)
		}
	}
}

const (
	logBuilt     = "tigerbeetle client built"
	logDiscarded = "tigerbeetle client discarded; building a new one"
)

func TestTigerBeetleCallerDeadlineLeavesTheClientAlone(t *testing.T) {
	srv := newStandinSilentServer(t)
	rec := newLogRecorder()
	// The staleness rule would need a minute of silence: only the callers' deadlines can end calls here.
	l, err := ledger.NewTigerBeetle(context.Background(), ledger.Options{ClusterID: "0", Address: "127.0.0.1:" + srv.port(),
		CallTimeout: time.Minute, Logger: slog.New(rec)})
	must(t, err)
	defer l.Close()
	first := waitConn(t, srv.opened, "from the first client")

	// A concurrent caller with no deadline of its own, in flight on the same client.
	ctxB, cancelB := context.WithCancel(context.Background())
	defer cancelB()
	doneB := make(chan error, 1)
	go func() { doneB <- l.Ping(ctxB) }()

	for range 3 {
		ctxA, cancelA := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := l.Ping(ctxA)
		cancelA()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Ping with a 50 ms deadline against a silent cluster = %v; want the caller's own deadline error", err)
		}
	}
	if n := rec.count(logDiscarded, 0); n != 0 {
		t.Fatalf("a caller's deadline discarded the shared client (%d discards logged)", n)
	}
	if n := rec.count(logBuilt, 0); n != 1 {
		t.Fatalf("%d clients built; want only the first one", n)
	}
	select {
	case err := <-doneB:
		t.Fatalf("the concurrent caller returned (%v) when another caller's deadline passed", err)
	case c := <-srv.closed:
		t.Fatalf("connection %v closed when a caller's deadline passed", c.RemoteAddr())
	default:
	}
	cancelB()
	if err := <-doneB; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v; want context.Canceled", err)
	}
	must(t, l.Close())
	if c := waitConn(t, srv.closed, "closed by Close"); c != first {
		t.Fatal("Close closed a connection other than the first client's")
	}
}

func TestTigerBeetleSilentClusterGetsTheClientRebuiltOnceForAllCallers(t *testing.T) {
	srv := newStandinSilentServer(t)
	rec := newLogRecorder()
	l, err := ledger.NewTigerBeetle(context.Background(), ledger.Options{ClusterID: "0", Address: "127.0.0.1:" + srv.port(),
		CallTimeout: 500 * time.Millisecond, Logger: slog.New(rec)})
	must(t, err)
	defer l.Close()
	waitConn(t, srv.opened, "from the first client")

	const callers = 8
	errs := make(chan error, callers)
	for range callers {
		go func() { errs <- l.Ping(context.Background()) }()
	}
	for range callers {
		if err := <-errs; err == nil || !strings.Contains(err.Error(), "no answer in time") {
			t.Fatalf("Ping against a silent cluster = %v; want an error saying the ledger did not answer", err)
		}
	}
	rec.wait(t, logBuilt, 2)
	waitConn(t, srv.opened, "from the rebuilt client")
	if n := rec.count(logDiscarded, 1); n != 1 {
		t.Fatalf("the first client was discarded %d times by %d callers; want once", n, callers)
	}
}

// The native client's own lines (`warning(message_bus): … error.ConnectionRefused` on stderr without a callback)
// come through the ledger's logger, with their scope.
func TestTigerBeetleNativeClientLinesGoToTheLedgersLogger(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: the client's connects are refused
	rec := newLogRecorder()
	l, err := ledger.NewTigerBeetle(context.Background(), ledger.Options{ClusterID: "0", Address: addr, Logger: slog.New(rec)})
	must(t, err)
	defer l.Close()
	deadline := time.After(30 * time.Second)
	for {
		rec.mu.Lock()
		changed := rec.changed
		rec.mu.Unlock()
		if rec.countAttrs(map[string]string{"source": "tigerbeetle-client", "scope": "message_bus"}) > 0 {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatal("no log record from the native client's message_bus within 30 s of connecting to a closed port")
		}
	}
}

// countAttrs returns how many records carry every attribute in want.
func (h *logRecorder) countAttrs(want map[string]string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.recs {
		found := 0
		r.Attrs(func(a slog.Attr) bool {
			if v, ok := want[a.Key]; ok && a.Value.String() == v {
				found++
			}
			return true
		})
		if found == len(want) {
			n++
		}
	}
	return n
}
