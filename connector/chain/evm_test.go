package chain_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/chain"

	"github.com/m2mnet/m2m/test/standin/evmnode"
)

func TestEVMCheck(t *testing.T) {
	tests := []struct {
		name    string
		answers map[string]string
		want    chain.EVMStatus
		wantErr string
	}{
		{"healthy node reports chain and block", map[string]string{
			"eth_chainId": `{"result":"0x2105"}`, "eth_blockNumber": `{"result":"0x1b4e2c0"}`},
			chain.EVMStatus{ChainID: 8453, BlockNumber: 28631744}, ""},
		{"JSON-RPC error is reported", map[string]string{"eth_chainId": `{"result":"0x1"}`}, chain.EVMStatus{},
			"eth_blockNumber"},
		{"non-hex result is refused", map[string]string{"eth_chainId": `{"result":"8453"}`, "eth_blockNumber": `{"result":"0x1"}`},
			chain.EVMStatus{}, "not a hex quantity"},
		{"HTTP error is reported", nil, chain.EVMStatus{}, "503"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := evmnode.Start(t)
			if tc.answers == nil {
				srv.Fail(http.StatusServiceUnavailable)
			} else {
				srv.SetAnswers(tc.answers)
			}
			e := &chain.EVM{URL: srv.URL}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := e.Check(ctx)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestEVMCheckHonoursTheDeadline(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer srv.Close()
	defer close(hang)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := (&chain.EVM{URL: srv.URL}).Check(ctx)
	if err == nil {
		t.Fatal("a node that never answers passed the check")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("check took %s with a 200 ms deadline", took)
	}
}

func TestEVMErrorsNeverShowTheURLPath(t *testing.T) {
	const key = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
	tests := []struct{ name, url string }{
		{"unreachable", "http://127.0.0.1:1/v2/" + key},
		{"HTTP error", failingEVMNode(t).URL + "/v2/" + key},
		{"key in query", "http://127.0.0.1:1/rpc?apikey=" + key},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := (&chain.EVM{URL: tc.url}).Check(ctx)
			if err == nil {
				t.Fatal("check passed")
			}
			if strings.Contains(err.Error(), key) {
				t.Fatalf("error shows the API key: %v", err)
			}
			if !strings.Contains(err.Error(), "127.0.0.1") {
				t.Fatalf("error does not say which host: %v", err)
			}
		})
	}
}

func failingEVMNode(t *testing.T) *evmnode.Node {
	n := evmnode.Start(t)
	n.Fail(http.StatusServiceUnavailable)
	return n
}
