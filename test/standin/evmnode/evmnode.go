// Package evmnode stands in for an EVM JSON-RPC node (Base), which no test machine here can reach: it answers
// eth_chainId and eth_blockNumber over real HTTP, strictly as JSON-RPC 2.0, and can be told to answer
// otherwise or to fail.
package evmnode

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// What the stand-in answers until told otherwise: Base mainnet's chain id (8453) and block 153.
const (
	ChainID = 0x2105
	Block   = 0x99
)

// Node is a running stand-in EVM node.
type Node struct {
	URL string // http://host:port

	srv     *http.Server
	mu      sync.Mutex
	answers map[string]string // method -> the reply's member(s) after "id", e.g. {"result":"0x1"}
	status  int               // when not 0, every request gets this HTTP status
}

// Start runs a stand-in on 127.0.0.1 for the length of t.
func Start(t testing.TB) *Node {
	t.Helper()
	n, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

// Listen runs a stand-in on addr (host:port; port 0 picks one) until Close: for a harness that outlives
// one test, or an address that containers reach.
func Listen(addr string) (*Node, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("EVM node stand-in: listen on %s: %w", addr, err)
	}
	n := &Node{URL: "http://" + ln.Addr().String(), answers: map[string]string{
		"eth_chainId":     fmt.Sprintf(`{"result":"0x%x"}`, ChainID),
		"eth_blockNumber": fmt.Sprintf(`{"result":"0x%x"}`, Block),
	}}
	n.srv = &http.Server{Handler: http.HandlerFunc(n.serve), ReadHeaderTimeout: 5 * time.Second}
	go n.srv.Serve(ln)
	return n, nil
}

// SetAnswers replaces what the node answers, by method: a JSON object holding "result" or "error", e.g.
// `{"result":"0x1"}`. A method not listed gets JSON-RPC's "method not found".
func (n *Node) SetAnswers(answers map[string]string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.answers = answers
}

// SetAnswer changes what the node answers to one method (see SetAnswers).
func (n *Node) SetAnswer(method, answer string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.answers[method] = answer
}

// Fail makes every request get the HTTP status given, as a broken gateway would; Fail(0) recovers.
func (n *Node) Fail(status int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.status = status
}

// Close stops the node.
func (n *Node) Close() { n.srv.Close() }

func (n *Node) serve(w http.ResponseWriter, r *http.Request) {
	var req struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Method  string          `json:"method"`
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "want POST application/json", http.StatusBadRequest)
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.JSONRPC != "2.0" || len(req.ID) == 0 {
		http.Error(w, "not JSON-RPC 2.0", http.StatusBadRequest)
		return
	}
	n.mu.Lock()
	status, answer, ok := n.status, n.answers[req.Method], false
	if answer != "" {
		ok = true
	}
	n.mu.Unlock()
	if status != 0 {
		http.Error(w, "stand-in told to fail", status)
		return
	}
	if !ok {
		answer = fmt.Sprintf(`{"error":{"code":-32601,"message":"the method %s does not exist"}}`, req.Method)
	}
	// Echo the request id, as JSON-RPC requires.
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"jsonrpc":"2.0","id":` + string(req.ID) + `,` + strings.TrimPrefix(answer, "{")))
}
