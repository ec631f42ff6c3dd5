package evmnode_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/m2mnet/m2m/test/standin/evmnode"
)

func call(t *testing.T, url, contentType, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, contentType, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestStandinAnswersJSONRPCStrictlyAndFailsWhenTold(t *testing.T) {
	n := evmnode.Start(t)
	code, out := call(t, n.URL, "application/json", `{"jsonrpc":"2.0","id":7,"method":"eth_chainId"}`)
	if code != http.StatusOK || out["result"] != "0x2105" || out["id"] != float64(7) {
		t.Fatalf("eth_chainId: %d %v; want 200, result 0x2105, id 7", code, out)
	}
	if code, _ := call(t, n.URL, "text/plain", `{"jsonrpc":"2.0","id":7,"method":"eth_chainId"}`); code != http.StatusBadRequest {
		t.Fatalf("text/plain: %d; want 400", code)
	}
	if code, _ := call(t, n.URL, "application/json", `{"id":7,"method":"eth_chainId"}`); code != http.StatusBadRequest {
		t.Fatalf("no jsonrpc member: %d; want 400", code)
	}
	if _, out := call(t, n.URL, "application/json", `{"jsonrpc":"2.0","id":1,"method":"eth_call"}`); out["error"] == nil {
		t.Fatalf("unknown method: %v; want a JSON-RPC error", out)
	}
	n.Fail(http.StatusBadGateway)
	if code, _ := call(t, n.URL, "application/json", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`); code != http.StatusBadGateway {
		t.Fatalf("failing: %d; want 502", code)
	}
	n.Fail(0)
	n.SetAnswer("eth_blockNumber", `{"result":"0x10"}`)
	if _, out := call(t, n.URL, "application/json", `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}`); out["result"] != "0x10" {
		t.Fatalf("after SetAnswer: %v; want 0x10", out)
	}
}
