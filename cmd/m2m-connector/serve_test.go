package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/m2mnet/m2m/internal/testenv"

	"github.com/m2mnet/m2m/test/standin/evmnode"
)

// Values that must never appear in any output; each is a throwaway made for these tests.
var (
	testEVMKey  = "0x" + strings.Repeat("c0ffee11", 8)
	testNodeKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	testAPIKey  = "apikey-3f9d2b7e51c4"
)

func TestMain(m *testing.M) {
	testenv.CommandMain("m2m-connector", main)
	os.Exit(m.Run())
}

// buildConnector returns the command to run: this test binary under the name m2m-connector, which runs
// main (see testenv.CommandMain), so the tests run the real process without building it again.
func buildConnector(t *testing.T) string {
	t.Helper()
	return testenv.Command(t, "m2m-connector")
}

func devEnviron(rpcURL string) []string {
	return []string{
		"NODE_ID=m2m-servetest", "LEDGER=memory", "TIGERBEETLE_CLUSTER_ID=1", "LOG_LEVEL=debug",
		"EVM_ADDRESS=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "EVM_PRIVATE_KEY=" + testEVMKey,
		"NODE_PRIVATE_KEY=" + testNodeKey, "BASE_RPC_URL=" + rpcURL + "/v2/" + testAPIKey,
		"HEALTH_CHECK_PORT=0", "BTP_PORT=0",
	}
}

// logLines collects a process's JSON log lines and announces the health address when it is logged.
type logLines struct {
	mu    sync.Mutex
	raw   bytes.Buffer
	lines []map[string]any
	addr  chan string
}

func (l *logLines) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var line map[string]any
		err := json.Unmarshal(sc.Bytes(), &line)
		l.mu.Lock()
		l.raw.Write(sc.Bytes())
		l.raw.WriteByte('\n')
		if err == nil {
			l.lines = append(l.lines, line)
		}
		l.mu.Unlock()
		if err == nil && line["msg"] == "health server listening" {
			l.addr <- line["addr"].(string)
		}
	}
}

func (l *logLines) find(msg string) map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if line["msg"] == msg {
			return line
		}
	}
	return nil
}

func (l *logLines) text() string { l.mu.Lock(); defer l.mu.Unlock(); return l.raw.String() }

// connectorProcess is a running m2m-connector with its logs collected.
type connectorProcess struct {
	cmd    *exec.Cmd
	logs   *logLines
	stderr *bytes.Buffer
	exited chan error
	base   string // http://127.0.0.1:port of /health
	start  time.Time
}

func startConnector(t *testing.T, bin string, env []string) *connectorProcess {
	t.Helper()
	p := &connectorProcess{cmd: exec.Command(bin, "serve", "--bind", "127.0.0.1"), logs: &logLines{addr: make(chan string, 1)},
		stderr: &bytes.Buffer{}, exited: make(chan error, 1)}
	p.cmd.Env = env
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readDone := make(chan struct{})
	go func() { p.logs.read(stdout); close(readDone) }()
	go func() { <-readDone; p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	select {
	case addr := <-p.logs.addr:
		p.base = "http://" + addr
	case err := <-p.exited:
		t.Fatalf("connector exited at start: %v\nstdout:\n%s\nstderr:\n%s", err, p.logs.text(), p.stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("no 'health server listening' log within 10 s:\n%s", p.logs.text())
	}
	return p
}

// stop sends SIGTERM and requires exit code 0 within 10 s.
func (p *connectorProcess) stop(t *testing.T) {
	t.Helper()
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; want 0\n%s\n%s", err, p.logs.text(), p.stderr.String())
		}
		t.Logf("exited 0 %s after SIGTERM", time.Since(sent).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGTERM")
	}
	if p.logs.find("stopped") == nil {
		t.Errorf("no 'stopped' log line:\n%s", p.logs.text())
	}
}

func TestServeAnswersLiveAtOnceReadyOnceCheckedAndExitsZeroOnSIGTERM(t *testing.T) {
	bin := buildConnector(t)
	p := startConnector(t, bin, devEnviron(evmnode.Start(t).URL))
	waitStatus(t, p.base+"/health/live", http.StatusOK, time.Second)
	t.Logf("/health/live answered 200 %s after the process started", time.Since(p.start).Round(time.Millisecond))
	waitStatus(t, p.base+"/health/ready", http.StatusOK, 5*time.Second)
	base, logs, stderr := p.base, p.logs, p.stderr

	var report struct {
		Status       string `json:"status"`
		NodeID       string `json:"nodeId"`
		Dependencies map[string]struct {
			Status string `json:"status"`
			Detail string `json:"detail"`
		} `json:"dependencies"`
	}
	getJSON(t, base+"/health", &report)
	if report.Status != "healthy" || report.NodeID != "m2m-servetest" || report.Dependencies["evm"].Status != "up" ||
		report.Dependencies["tigerbeetle"].Status != "up" || report.Dependencies["xrpl"].Status != "disabled" {
		t.Errorf("/health = %+v; want healthy m2m-servetest with evm and tigerbeetle up, xrpl disabled", report)
	}
	if d := report.Dependencies["evm"].Detail; !strings.Contains(d, "chain id 8453, block 153") {
		t.Errorf("evm detail = %q; want the chain id and block the node answered", d)
	}
	if w := logs.find("LEDGER=memory: balances are kept in this process only and are LOST on restart; development only, set LEDGER=tigerbeetle for a real node"); w == nil || w["level"] != "WARN" {
		t.Errorf("no loud WARN about the memory ledger in the log:\n%s", logs.text())
	}

	p.stop(t)
	all := logs.text() + stderr.String()
	for name, secret := range map[string]string{"EVM_PRIVATE_KEY": testEVMKey, "NODE_PRIVATE_KEY": testNodeKey, "RPC API key": testAPIKey} {
		if strings.Contains(all, secret) {
			t.Errorf("the output shows %s", name)
		}
	}
}

func TestServeWithAHungTigerBeetleIsLiveNotReadyAndStillStops(t *testing.T) {
	t.Parallel()
	bin := buildConnector(t)
	// A TCP server that accepts and never answers: a hung TigerBeetle.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	go func() {
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
		}
	}()
	env := append(devEnviron(evmnode.Start(t).URL), "LEDGER=tigerbeetle", "TIGERBEETLE_ADDRESS=localhost:"+strconv.Itoa(hung.Addr().(*net.TCPAddr).Port))
	p := startConnector(t, bin, env)
	waitStatus(t, p.base+"/health/live", http.StatusOK, time.Second)
	// The first ledger check times out after 3 s; until then readiness says "not checked yet".
	waitStatus(t, p.base+"/health/ready", http.StatusServiceUnavailable, time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(p.base + "/health/ready")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(body), "tigerbeetle") &&
			strings.Contains(string(body), "no answer in time") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health/ready = %s %s; want 503 saying TigerBeetle did not answer in time", resp.Status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.stop(t)
}

func TestServeWithInvalidSettingsExitsTwoListingEveryProblem(t *testing.T) {
	bin := buildConnector(t)
	cmd := exec.Command(bin)
	// A malformed secret is a problem too, and its value must not be echoed.
	cmd.Env = []string{"LEDGER=paper", "LOG_LEVEL=loud", "HEALTH_CHECK_PORT=http", "NODE_PRIVATE_KEY=not-a-key-" + testAPIKey}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit = %v; want code 2\n%s", err, stderr.String())
	}
	for _, key := range []string{"NODE_ID", "TIGERBEETLE_CLUSTER_ID", "LEDGER=paper", "LOG_LEVEL=loud", "HEALTH_CHECK_PORT=http", "NODE_PRIVATE_KEY"} {
		if !strings.Contains(stderr.String(), key) {
			t.Errorf("stderr does not name %s:\n%s", key, stderr.String())
		}
	}
	if strings.Contains(stderr.String(), testAPIKey) {
		t.Errorf("stderr repeats the secret's value:\n%s", stderr.String())
	}
}

func TestServeExitsOneNamingTheSettingWhenThePortIsTaken(t *testing.T) {
	bin := buildConnector(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
	cmd := exec.Command(bin, "serve", "--bind", "127.0.0.1")
	cmd.Env = append(devEnviron("http://127.0.0.1:1"), "HEALTH_CHECK_PORT="+port)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(stderr.String(), "HEALTH_CHECK_PORT") ||
		!strings.Contains(stderr.String(), port) {
		t.Fatalf("exit = %v, stderr = %q; want code 1 naming HEALTH_CHECK_PORT and port %s", err, stderr.String(), port)
	}
}

func waitStatus(t *testing.T, url string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := "no answer"
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
			last = resp.Status + " " + string(body)
		} else {
			last = err.Error()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("GET %s: want %d within %s; last: %s", url, want, within, last)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
