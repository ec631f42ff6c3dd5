package chain

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// EVM checks an EVM JSON-RPC endpoint over HTTP(S).
type EVM struct {
	URL    string
	Client *http.Client // nil means http.DefaultClient; deadlines come from ctx
	id     atomic.Uint64
}

// EVMStatus is what a successful check learned.
type EVMStatus struct {
	ChainID     uint64
	BlockNumber uint64
}

func (s EVMStatus) String() string {
	return fmt.Sprintf("chain id %d, block %d", s.ChainID, s.BlockNumber)
}

// Check asks for eth_chainId and eth_blockNumber; both must answer with a hex quantity.
func (e *EVM) Check(ctx context.Context) (EVMStatus, error) {
	chainID, err := e.quantity(ctx, "eth_chainId")
	if err != nil {
		return EVMStatus{}, err
	}
	block, err := e.quantity(ctx, "eth_blockNumber")
	if err != nil {
		return EVMStatus{}, err
	}
	return EVMStatus{ChainID: chainID, BlockNumber: block}, nil
}

// maxRPCResponse bounds what we read: the answers we ask for are a few dozen bytes.
const maxRPCResponse = 1 << 20

func (e *EVM) quantity(ctx context.Context, method string) (uint64, error) {
	where := Redact(e.URL)
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": e.id.Add(1), "method": method, "params": []any{}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%s to %s: %w", method, where, scrub(err))
	}
	req.Header.Set("Content-Type", "application/json")
	client := e.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s to %s: %w", method, where, scrub(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxRPCResponse))
	if err != nil {
		return 0, fmt.Errorf("%s to %s: read answer: %w", method, where, scrub(err))
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s to %s: HTTP %s", method, where, resp.Status)
	}
	var rpc struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &rpc); err != nil {
		return 0, fmt.Errorf("%s to %s: answer is not JSON-RPC: %w", method, where, err)
	}
	if rpc.Error != nil {
		return 0, fmt.Errorf("%s to %s: JSON-RPC error %d: %s", method, where, rpc.Error.Code, rpc.Error.Message)
	}
	var hex string
	if err := json.Unmarshal(rpc.Result, &hex); err != nil || !strings.HasPrefix(hex, "0x") || len(hex) < 3 {
		return 0, fmt.Errorf("%s to %s: result %s is not a hex quantity", method, where, truncate(string(rpc.Result)))
	}
	n, err := strconv.ParseUint(hex[2:], 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%s to %s: result %q is not a 64-bit hex quantity", method, where, truncate(hex))
	}
	return n, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
