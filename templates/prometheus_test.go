package templates

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/metrics"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/m2mnet/m2m/internal/testenv"
)

// connectorMetrics serves a real connector registry with every m2m_* family holding series, and keeps
// the counters moving so that rate() has something to say.
func connectorMetrics(t *testing.T) string {
	t.Helper()
	m := metrics.New("v0.0.0-test", "abc1234", runtime.Version())
	m.Ready.Set(1)
	for state, n := range map[string]float64{"connected": 2, "disconnected": 1, "discovered": 3} {
		m.Peers.WithLabelValues(state).Set(n)
	}
	for dep, up := range map[string]float64{"tigerbeetle": 1, "evm": 1, "xrpl": 0, "discovery": 1} {
		m.DependencyUp.WithLabelValues(dep).Set(up)
	}
	traffic := func() {
		m.Packets.WithLabelValues(metrics.ResultFulfilled, "").Add(100) // 4 rejects in 104: under HighPacketRejectRate's 10%
		m.PacketDuration.WithLabelValues(metrics.ResultFulfilled).Observe(0.02)
		for _, code := range []string{"F02", "T01", "T04", "R00"} {
			m.Packets.WithLabelValues(metrics.ResultRejected, code).Inc()
			m.PacketDuration.WithLabelValues(metrics.ResultRejected).Observe(0.003)
		}
		for _, dep := range []string{"tigerbeetle", "evm", "xrpl", "discovery"} {
			m.DependencyLatency.WithLabelValues(dep).Observe(0.004)
		}
		for _, op := range []string{"prepare", "post", "void", "balance"} {
			m.LedgerOps.WithLabelValues(op, "ok").Observe(0.001)
		}
		m.LedgerOps.WithLabelValues("prepare", "error").Observe(0.002)
		m.LedgerOps.WithLabelValues("post", "timeout").Observe(1)
	}
	traffic()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				traffic()
			}
		}
	})
	srv := httptest.NewServer(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	t.Cleanup(func() { cancel(); wg.Wait(); srv.Close() })
	return strings.TrimPrefix(srv.URL, "http://")
}

// startPrometheus runs the real Prometheus with the shipped prometheus.yml and rules, changed only where a
// test must: the connector's address, the rules' path and 1 s intervals. It returns the base URL.
func startPrometheus(t *testing.T, bin, connector string) string {
	t.Helper()
	dir := materialized(t)
	cfg := string(withRulesAt(t, dir, filepath.Join(dir, "rules")))
	for old, repl := range map[string]string{
		`"connector:8080"`:         `"` + connector + `"`,
		`"localhost:9090"`:         `"127.0.0.1:1"`, // its own port is not known before it starts; nothing reads this job
		"scrape_interval: 15s":     "scrape_interval: 1s",
		"scrape_timeout: 10s":      "scrape_timeout: 1s",
		"evaluation_interval: 15s": "evaluation_interval: 1s",
	} {
		if !strings.Contains(cfg, old) {
			t.Fatalf("prometheus.yml no longer contains %s; update this test's rewrite", old)
		}
		cfg = strings.ReplaceAll(cfg, old, repl)
	}
	cfgPath := filepath.Join(dir, "prometheus-test.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+cfgPath, "--storage.tsdb.path="+t.TempDir(),
		"--web.listen-address=127.0.0.1:0", "--log.level=info")
	cmd.WaitDelay = 5 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	var logMu sync.Mutex
	var logTail []string
	addr := make(chan string, 1)
	listening := regexp.MustCompile(`msg="Listening on" address=(\S+)`)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			logMu.Lock()
			logTail = append(logTail, line)
			logMu.Unlock()
			if m := listening.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			logMu.Lock()
			t.Logf("prometheus log:\n%s", strings.Join(logTail, "\n"))
			logMu.Unlock()
		}
	})
	select {
	case a := <-addr:
		base := "http://" + a
		testenv.WaitFor(t, 30*time.Second, "Prometheus ready", func() bool {
			resp, err := http.Get(base + "/-/ready")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		return base
	case <-time.After(30 * time.Second):
		t.Fatal("Prometheus did not report the address it listens on within 30 s")
	}
	return ""
}

// apiResponse is Prometheus's HTTP API envelope.
type apiResponse struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

func apiGet(base, path string, params url.Values) (apiResponse, error) {
	var r apiResponse
	resp, err := http.Get(base + path + "?" + params.Encode())
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return r, fmt.Errorf("decode %s: %w", path, err)
	}
	return r, nil
}

// instantQuery runs expr and returns how many series or samples it answered with.
func instantQuery(base, expr string) (int, error) {
	r, err := apiGet(base, "/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		return 0, err
	}
	if data.ResultType == "scalar" || data.ResultType == "string" {
		return 1, nil
	}
	var series []json.RawMessage
	err = json.Unmarshal(data.Result, &series)
	return len(series), err
}

func TestExpressionsRunOnRealPrometheus(t *testing.T) {
	bin := requireBinary(t, "prometheus")
	base := startPrometheus(t, bin, connectorMetrics(t))
	// Five scrapes give rate() over the 1m that stands in for $__rate_interval enough samples.
	testenv.WaitFor(t, 30*time.Second, "five scrapes of the connector", func() bool {
		n, err := instantQuery(base, `count_over_time(up{job="connector"}[1m]) >= 5 and up{job="connector"} == 1`)
		return err == nil && n == 1
	})
	exprs, err := Expressions()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range exprs {
		n, err := instantQuery(base, e.Query)
		if err != nil {
			t.Errorf("%s: %v\n%s", e, err, e.Query)
			continue
		}
		// With every m2m_* family populated, a panel that shows nothing has a wrong name, label or value.
		// Alert expressions are conditions (empty is normal); ALERTS only has series while an alert fires.
		if e.Alert == "" && !strings.Contains(e.Query, "ALERTS") && n == 0 {
			t.Errorf("%s: no data although every metric it reads has series:\n%s", e, e.Query)
		}
	}
	checkRulesLoadedAndPending(t, base)
}

// checkRulesLoadedAndPending requires every shipped alert to be loaded and evaluated without error, and the
// alerts whose condition the served metrics meet (a disconnected peer, xrpl down) to be pending or firing.
func checkRulesLoadedAndPending(t *testing.T, base string) {
	t.Helper()
	want := allRules(t)
	active := map[string]string{}
	testenv.WaitFor(t, 30*time.Second, "the rules to be evaluated", func() bool {
		r, err := apiGet(base, "/api/v1/rules", url.Values{"type": {"alert"}})
		if err != nil || r.Status != "success" {
			return false
		}
		var data struct {
			Groups []struct {
				Rules []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
					Alerts    []struct {
						State string `json:"state"`
					} `json:"alerts"`
				} `json:"rules"`
			} `json:"groups"`
		}
		if json.Unmarshal(r.Data, &data) != nil {
			return false
		}
		seen := 0
		for _, g := range data.Groups {
			for _, rl := range g.Rules {
				if rl.Health == "unknown" {
					return false // not evaluated yet
				}
				if rl.Health != "ok" {
					t.Fatalf("alert %s: health %s: %s", rl.Name, rl.Health, rl.LastError)
				}
				seen++
				for _, a := range rl.Alerts {
					active[rl.Name] = a.State
				}
			}
		}
		return seen == len(want)
	})
	for _, name := range []string{"PeerDisconnected", "ChainRPCDown"} {
		if s := active[name]; s != "pending" && s != "firing" {
			t.Errorf("alert %s is %q, want pending: the served metrics meet its condition", name, s)
		}
	}
	for name, s := range active {
		if name != "PeerDisconnected" && name != "ChainRPCDown" {
			t.Errorf("alert %s is %s, though the served metrics are healthy for it", name, s)
		}
	}
}
