package health_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/chain"
	"github.com/m2mnet/m2m/connector/health"
	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/metrics"

	"github.com/m2mnet/m2m/test/standin/evmnode"
)

// standinPeers stands in for the node's peer table, which another package provides.
type standinPeers struct{ connected, discovered int }

func (p standinPeers) PeerCounts() (int, int) { return p.connected, p.discovered }

type fixture struct {
	srv     *httptest.Server
	handler *health.Handler
	monitor *health.Monitor
	metrics *metrics.Metrics
	evm     *evmnode.Node
}

// newFixture wires the real checks: the memory ledger's Ping and the EVM check against a local node.
// xrpl is disabled, as with SETTLEMENT_PREFERENCE=evm; discovery, when given, is optional.
func newFixture(t *testing.T, peers health.PeerCounter, extra ...health.Dependency) *fixture {
	t.Helper()
	f := &fixture{metrics: metrics.New("1.2.3", "abc", "go1.26"), evm: evmnode.Start(t)}
	f.evm.SetAnswer("eth_blockNumber", `{"result":"0x10"}`)
	l := ledger.NewMemory()
	evm := &chain.EVM{URL: f.evm.URL}
	deps := append([]health.Dependency{
		{Name: "tigerbeetle", Required: true, Check: func(ctx context.Context) (string, error) { return "memory", l.Ping(ctx) }},
		{Name: "evm", Required: true, Check: func(ctx context.Context) (string, error) {
			s, err := evm.Check(ctx)
			return s.String(), err
		}},
		{Name: "xrpl"},
	}, extra...)
	f.monitor = health.NewMonitor(f.metrics, nil, deps...)
	f.handler = health.NewHandler(health.Options{Version: "1.2.3", NodeID: "m2m-test", Monitor: f.monitor, Peers: peers,
		SLA: health.NewPacketWindow(f.metrics.Registry, time.Minute), Metrics: f.metrics})
	f.srv = httptest.NewServer(f.handler)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *fixture) report(t *testing.T) (int, health.Report) {
	t.Helper()
	code, body := f.get(t, "/health")
	var r health.Report
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("/health is not JSON: %v\n%s", err, body)
	}
	return code, r
}

func TestReadyOnlyAfterEveryRequiredDependencyAnswered(t *testing.T) {
	f := newFixture(t, nil)
	if code, body := f.get(t, "/health/ready"); code != http.StatusServiceUnavailable || !strings.Contains(body, "not checked yet") {
		t.Fatalf("before any check: /health/ready = %d %s; want 503 saying not checked yet", code, body)
	}
	f.monitor.CheckAll(context.Background())
	if code, body := f.get(t, "/health/ready"); code != http.StatusOK {
		t.Fatalf("all required up: /health/ready = %d %s; want 200", code, body)
	}
	code, r := f.report(t)
	if code != http.StatusOK || r.Status != health.Healthy || r.NodeID != "m2m-test" || r.Version != "1.2.3" {
		t.Fatalf("/health = %d %+v; want 200 healthy for m2m-test 1.2.3", code, r)
	}
	evm := r.Dependencies["evm"]
	if evm.Status != health.StatusUp || evm.LatencyMs == nil || evm.CheckedAt == nil || evm.Detail != "chain id 8453, block 16" {
		t.Fatalf("evm dependency = %+v; want up with latency, time and detail", evm)
	}
	if x := r.Dependencies["xrpl"]; x.Status != health.StatusDisabled {
		t.Fatalf("xrpl = %+v; want disabled when the node does not settle on XRP", x)
	}
}

func TestRequiredDependencyDownMakesNotReadyWithTheReason(t *testing.T) {
	f := newFixture(t, nil)
	f.evm.Fail(http.StatusBadGateway)
	f.monitor.CheckAll(context.Background())
	code, body := f.get(t, "/health/ready")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "evm: ") || !strings.Contains(body, "502") {
		t.Fatalf("/health/ready = %d %s; want 503 naming evm and its HTTP 502", code, body)
	}
	code, r := f.report(t)
	if code != http.StatusServiceUnavailable || r.Status != health.Unhealthy || r.Dependencies["evm"].LastError == "" {
		t.Fatalf("/health = %d %+v; want 503 unhealthy with evm's last error", code, r)
	}
	if d := r.Dependencies["evm"].Detail; d != "" {
		t.Errorf("a failed check shows detail %q; a failure has only its error", d)
	}
	// Recovery is picked up by the next check.
	f.evm.Fail(0)
	f.monitor.CheckAll(context.Background())
	if code, _ := f.get(t, "/health/ready"); code != http.StatusOK {
		t.Fatalf("after recovery /health/ready = %d; want 200", code)
	}
}

func TestOptionalDependencyDownOrNoConnectedPeerIsDegraded(t *testing.T) {
	failing := func(context.Context) (string, error) { return "", io.ErrUnexpectedEOF }
	tests := []struct {
		name  string
		peers health.PeerCounter
		extra []health.Dependency
		want  string
	}{
		{"optional discovery down", standinPeers{1, 1}, []health.Dependency{{Name: "discovery", Check: failing}}, "discovery: down"},
		{"discovered peers but none connected", standinPeers{0, 3}, nil, "none of the discovered peers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.peers, tc.extra...)
			f.monitor.CheckAll(context.Background())
			if code, _ := f.get(t, "/health/ready"); code != http.StatusOK {
				t.Fatalf("/health/ready = %d; an optional problem must not stop readiness", code)
			}
			code, r := f.report(t)
			if code != http.StatusOK || r.Status != health.Degraded || !strings.Contains(strings.Join(r.Reasons, ";"), tc.want) {
				t.Fatalf("/health = %d %+v; want 200 degraded saying %q", code, r, tc.want)
			}
		})
	}
}

func TestDrainStopsReadinessButNotLiveness(t *testing.T) {
	f := newFixture(t, nil)
	f.monitor.CheckAll(context.Background())
	f.handler.Drain()
	if code, body := f.get(t, "/health/ready"); code != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
		t.Fatalf("/health/ready while draining = %d %s", code, body)
	}
	if code, _ := f.get(t, "/health/live"); code != http.StatusOK {
		t.Fatalf("/health/live while draining = %d; want 200", code)
	}
}

func TestMetricsExposeDependenciesReadinessAndBuild(t *testing.T) {
	f := newFixture(t, standinPeers{connected: 2, discovered: 5})
	f.evm.Fail(http.StatusBadGateway)
	f.monitor.CheckAll(context.Background())
	code, body := f.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`m2m_dependency_up{dependency="evm"} 0`,
		`m2m_dependency_up{dependency="tigerbeetle"} 1`,
		`m2m_dependency_check_duration_seconds_count{dependency="evm"} 1`,
		`m2m_ready 0`,
		`m2m_build_info{commit="abc",goversion="go1.26",version="1.2.3"} 1`,
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestHealthShowsSLAFromPacketCollectors(t *testing.T) {
	f := newFixture(t, nil)
	f.monitor.CheckAll(context.Background())
	_, r := f.report(t)
	if r.SLA.PacketSuccessRate != nil || r.SLA.P99LatencyMs != nil {
		t.Fatalf("no traffic yet: sla = %+v; want null figures", r.SLA)
	}
	f.metrics.Packets.WithLabelValues(metrics.ResultFulfilled, "").Add(99)
	f.metrics.Packets.WithLabelValues(metrics.ResultRejected, "F02").Add(1)
	for range 100 {
		f.metrics.PacketDuration.WithLabelValues(metrics.ResultFulfilled).Observe(0.003) // in (2.5 ms, 5 ms]
	}
	_, r = f.report(t)
	if r.SLA.Packets != 100 || r.SLA.PacketSuccessRate == nil || *r.SLA.PacketSuccessRate != 0.99 {
		t.Fatalf("sla = %+v; want 100 packets at 0.99", r.SLA)
	}
	// Prometheus-style interpolation inside (2.5 ms, 5 ms]: 2.5 + 2.5 × 99/100 = 4.975 ms.
	if p := r.SLA.P99LatencyMs; p == nil || math.Abs(*p-4.975) > 1e-9 {
		t.Fatalf("p99 = %v; want 4.975 ms", fmtPtr(p))
	}
}

func fmtPtr(p *float64) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatFloat(*p, 'g', -1, 64)
}

func TestHealthEndpointsRefuseOtherMethods(t *testing.T) {
	f := newFixture(t, nil)
	resp, err := http.Post(f.srv.URL+"/health/ready", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /health/ready = %d; want 405", resp.StatusCode)
	}
}
