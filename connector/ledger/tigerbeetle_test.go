//go:build cgo

package ledger_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/metrics"
)

// TestTigerBeetleContract runs the contract against a real cluster: TB_ADDRESSES=ip:port (the first is used) and
// TB_CLUSTER_ID (default 0, TigerBeetle's test cluster).
func TestTigerBeetleContract(t *testing.T) {
	addrs := os.Getenv("TB_ADDRESSES")
	if addrs == "" {
		t.Skip("TB_ADDRESSES not set: no TigerBeetle server on this machine; TigerBeetle contract tests skipped")
	}
	cluster := os.Getenv("TB_CLUSTER_ID")
	if cluster == "" {
		cluster = "0"
	}
	addr, _, _ := strings.Cut(addrs, ",")
	if !strings.Contains(addr, ":") {
		addr = "127.0.0.1:" + addr // TigerBeetle's own tools accept a bare port
	}
	l, err := ledger.NewTigerBeetle(context.Background(), ledger.Options{ClusterID: cluster, Address: addr, CallTimeout: 5 * time.Second})
	must(t, err)
	t.Cleanup(func() { l.Close() })
	testContract(t, func(*testing.T) ledger.Ledger { return l })
}

// standinSilentServer accepts TCP connections and never answers: what a TigerBeetle that hangs, or a wrong
// service on the port, looks like to the client. It reports each connection as it opens, and when it closes.
type standinSilentServer struct {
	ln     net.Listener
	opened chan net.Conn
	closed chan net.Conn
}

func newStandinSilentServer(t *testing.T) *standinSilentServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	s := &standinSilentServer{ln: ln, opened: make(chan net.Conn, 16), closed: make(chan net.Conn, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.opened <- c
			go func() {
				io.Copy(io.Discard, c) // returns when the client closes its end
				s.closed <- c
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *standinSilentServer) port() string { return strconv.Itoa(s.ln.Addr().(*net.TCPAddr).Port) }

func waitConn(t *testing.T, ch chan net.Conn, what string) net.Conn {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(30 * time.Second):
		t.Fatalf("no connection %s within 30 s", what)
		return nil
	}
}

func TestTigerBeetleCallThatTimesOutClosesAndRebuildsTheClient(t *testing.T) {
	srv := newStandinSilentServer(t)
	m := metrics.New("test", "test", "go")
	// "localhost" also checks that the host is resolved here: the client itself would refuse a name.
	l, err := ledger.NewTigerBeetle(context.Background(), ledger.Options{ClusterID: "0", Address: "localhost:" + srv.port(),
		CallTimeout: 300 * time.Millisecond, Metrics: m, Logger: slog.New(slog.DiscardHandler)})
	must(t, err)
	defer l.Close()
	first := waitConn(t, srv.opened, "from the first client")

	start := time.Now()
	err = l.Ping(context.Background())
	if err == nil {
		t.Fatal("Ping against a server that never answers succeeded")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("Ping took %s; the call timeout is 300 ms (10 s allowed for a busy machine)", took)
	}
	if !strings.Contains(err.Error(), "no answer in time: the cluster sent nothing for 300ms") {
		t.Errorf("Ping error %q does not say that the ledger did not answer within the call timeout", err)
	}
	if n := histogramCount(t, m, "ping", "timeout"); n != 1 {
		t.Errorf("ping/timeout observations = %d, want 1", n)
	}
	// The timed-out client is closed: its connection goes away.
	for c := waitConn(t, srv.closed, "closed by the discarded client"); c != first; c = waitConn(t, srv.closed, "closed by the discarded client") {
	}
	// The next call builds a new client, which opens a new connection.
	go l.Ping(context.Background())
	waitConn(t, srv.opened, "from the rebuilt client")
}

func TestTigerBeetleCloseEndsTheConnection(t *testing.T) {
	srv := newStandinSilentServer(t)
	l, err := ledger.NewTigerBeetle(context.Background(), ledger.Options{ClusterID: "0", Address: "127.0.0.1:" + srv.port(),
		CallTimeout: time.Second})
	must(t, err)
	first := waitConn(t, srv.opened, "from the client")
	must(t, l.Close())
	if c := waitConn(t, srv.closed, "closed by Close"); c != first {
		t.Fatal("a different connection closed")
	}
	if err := l.Ping(context.Background()); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
}

// With several replicas the client is given every one (a name resolved here, as for one): each is dialled.
func TestTigerBeetleClientDialsEveryReplica(t *testing.T) {
	a, b := newStandinSilentServer(t), newStandinSilentServer(t)
	l, err := ledger.NewTigerBeetle(context.Background(), ledger.Options{ClusterID: "0",
		Address: "127.0.0.1:" + a.port() + ", localhost:" + b.port(), CallTimeout: time.Minute})
	must(t, err)
	defer l.Close()
	waitConn(t, a.opened, "to replica 0")
	waitConn(t, b.opened, "to replica 1")
}

func TestTigerBeetleUnresolvableHostFailsCallsNotStart(t *testing.T) {
	l, err := ledger.NewTigerBeetle(context.Background(), ledger.Options{ClusterID: "1", Address: "no-such-host.invalid:3000",
		CallTimeout: 2 * time.Second})
	must(t, err)
	defer l.Close()
	err = l.Ping(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no-such-host.invalid") || !strings.Contains(err.Error(), "TIGERBEETLE_ADDRESS") {
		t.Fatalf("Ping error = %v; want one naming the host and TIGERBEETLE_ADDRESS", err)
	}
}

func TestNewTigerBeetleRefusesMalformedOptions(t *testing.T) {
	tests := []struct {
		name string
		opts ledger.Options
		want string
	}{
		{"cluster id not a number", ledger.Options{ClusterID: "abc", Address: "127.0.0.1:3000"}, "TIGERBEETLE_CLUSTER_ID"},
		{"cluster id beyond 128 bits", ledger.Options{ClusterID: "340282366920938463463374607431768211456", Address: "127.0.0.1:3000"}, "TIGERBEETLE_CLUSTER_ID"},
		{"negative cluster id", ledger.Options{ClusterID: "-1", Address: "127.0.0.1:3000"}, "TIGERBEETLE_CLUSTER_ID"},
		// tigerbeetle format refuses these ("leading zero disallowed", a sign): a data file cannot have them.
		{"cluster id with a leading zero", ledger.Options{ClusterID: "007", Address: "127.0.0.1:3000"}, "without sign or leading zero"},
		{"cluster id with a plus sign", ledger.Options{ClusterID: "+7", Address: "127.0.0.1:3000"}, "without sign or leading zero"},
		{"cluster id 00", ledger.Options{ClusterID: "00", Address: "127.0.0.1:3000"}, "TIGERBEETLE_CLUSTER_ID"},
		{"empty cluster id", ledger.Options{ClusterID: "", Address: "127.0.0.1:3000"}, "TIGERBEETLE_CLUSTER_ID"},
		{"cluster id with spaces", ledger.Options{ClusterID: " 7", Address: "127.0.0.1:3000"}, "TIGERBEETLE_CLUSTER_ID"},
		{"address without port", ledger.Options{ClusterID: "1", Address: "tigerbeetle"}, "TIGERBEETLE_ADDRESS"},
		{"port out of range", ledger.Options{ClusterID: "1", Address: "tigerbeetle:70000"}, "TIGERBEETLE_ADDRESS"},
		{"second replica without port", ledger.Options{ClusterID: "1", Address: "127.0.0.1:3000,10.0.0.2"}, `"10.0.0.2"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ledger.NewTigerBeetle(context.Background(), tc.opts)
			if err == nil {
				l.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %s", err, tc.want)
			}
		})
	}
}

// A post against a cluster that never answers is repeated with the same id until its bound, then given up:
// counted, and logged at ERROR with the transfer id, since the books then miss a posting.
func TestTigerBeetlePostRetriedUntilTheTransferExpiresThenGivenUp(t *testing.T) {
	srv := newStandinSilentServer(t)
	rec := newLogRecorder()
	m := metrics.New("test", "test", "go")
	l, err := ledger.NewTigerBeetle(context.Background(), ledger.Options{ClusterID: "0", Address: "127.0.0.1:" + srv.port(),
		CallTimeout: 200 * time.Millisecond, Logger: slog.New(rec)})
	must(t, err)
	defer l.Close()
	id := l.NewTransferID()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	err = ledger.RetryPost(ctx, l, id, m, slog.New(rec))
	if !ledger.Retryable(err) || !strings.Contains(err.Error(), "gave up") {
		t.Fatalf("RetryPost against a silent cluster = %v; want a retryable error saying it gave up", err)
	}
	if n := counter(t, m, "m2m_ledger_retries_total", "post"); n < 2 {
		t.Errorf("m2m_ledger_retries_total{operation=post} = %g; want at least 2 attempts in 1.5 s with a 200 ms call timeout", n)
	}
	if n := counter(t, m, "m2m_ledger_give_ups_total", "post"); n != 1 {
		t.Errorf("m2m_ledger_give_ups_total{operation=post} = %g, want 1", n)
	}
	if n := rec.countError("transfer", fmt.Sprintf("%x", id)); n != 1 {
		t.Errorf("%d ERROR records name transfer %x; want one", n, id)
	}
}

// counter reads a counter{operation=op} from the registry, as a scrape would.
func counter(t *testing.T, m *metrics.Metrics, name, op string) float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	must(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "operation" && l.GetValue() == op {
					return s.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no series %s{operation=%q}", name, op)
	return 0
}
