package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/discovery"
	"github.com/m2mnet/m2m/connector/identity"
)

// TestDiscoverySubcommandServesAndSurvivesRestart runs the real binary twice on one data dir.
func TestDiscoverySubcommandServesAndSurvivesRestart(t *testing.T) {
	bin := buildConnector(t)
	data := filepath.Join(t.TempDir(), "data")

	base, stop := startDiscoveryProcess(t, bin, data)
	resp, err := http.Get(base + "/health")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /health: %v %v", resp, err)
	}
	resp.Body.Close()

	enc, pub, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	key, _ := identity.ParsePrivateKey(enc)
	body, _ := json.Marshal(discovery.PeerInfo{NodeID: "alice", BTPEndpoint: "wss://alice.example:4000", ILPAddress: "g.m2m.alice", Capabilities: []string{"evm-settlement"}, Version: "1"})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/peers/announce", bytes.NewReader(body))
	req.Header.Set(discovery.HeaderPublicKey, identity.EncodePublicKey(pub))
	ts, sig := identity.SignMessage(key, identity.PurposeAnnounce, base, time.Now(), body)
	req.Header.Set(discovery.HeaderTimestamp, ts)
	req.Header.Set(discovery.HeaderSignature, sig)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != `{"success":true,"ttl":120}` {
		t.Fatalf("announce: %d %s", resp.StatusCode, b)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit code after SIGTERM: %d, want 0", code)
	}

	base, stop = startDiscoveryProcess(t, bin, data)
	defer stop()
	resp, err = http.Get(base + "/api/v1/peers")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Peers []discovery.PeerInfo `json:"peers"`
		Total int                  `json:"total"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if list.Total != 1 || list.Peers[0].NodeID != "alice" || list.Peers[0].PublicKey != identity.EncodePublicKey(ed25519.PublicKey(pub)) {
		t.Fatalf("after restart: %+v", list)
	}
}

// startDiscoveryProcess starts `discovery` on 127.0.0.1:0, reads the address it logs, and returns a stop
// func that sends SIGTERM and returns the exit code.
func startDiscoveryProcess(t *testing.T, bin, data string, flags ...string) (base string, stop func() int) {
	t.Helper()
	base, stop, _ = startDiscoveryProc(t, bin, data, flags...)
	return base, stop
}

// startDiscoveryProc is startDiscoveryProcess that also returns the process, for a test that kills it.
func startDiscoveryProc(t *testing.T, bin, data string, flags ...string) (base string, stop func() int, proc *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"discovery", "--listen", "127.0.0.1:0", "--data-dir", data}, flags...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	var logged strings.Builder
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logged.WriteString(sc.Text() + "\n")
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "discovery registry listening" {
				addr <- rec.Addr
			}
		}
	}()
	var stopped bool
	code := -1
	stop = func() int {
		if stopped {
			return code
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		select {
		case <-waited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-waited
			t.Errorf("discovery did not exit within 15 s of SIGTERM")
		}
		code = cmd.ProcessState.ExitCode()
		return code
	}
	select {
	case a := <-addr:
		return "http://" + a, stop, cmd
	case <-time.After(20 * time.Second):
		stop()
		<-scanned
		t.Fatalf("discovery did not log its address; stderr:\n%s", logged.String())
	}
	return "", nil, nil
}
