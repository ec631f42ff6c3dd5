package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// evmStandin stands in for the EVM JSON-RPC node (Base) that a connector settling on EVM checks for readiness:
// no chain is reachable from these machines. It answers eth_chainId and eth_blockNumber, and can be told to fail.
// It listens on the engine's default bridge gateway, which containers on any bridge network reach.
type evmStandin struct {
	URL    string
	Host   string // the host's address as containers reach it
	srv    *http.Server
	block  atomic.Uint64
	failed atomic.Bool
}

// baseChainID is Base mainnet's chain id (8453).
const baseChainID = 0x2105

func startEVMStandin(ctx context.Context, cli *dockerClient) (*evmStandin, error) {
	res, err := cli.NetworkInspect(ctx, "bridge", client.NetworkInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("EVM stand-in: inspect the engine's bridge network: %w", err)
	}
	gw := bridgeGateway(res.Network.IPAM.Config, res.Network.Options["com.docker.network.bridge.name"])
	if gw == "" {
		return nil, errors.New("EVM stand-in: the engine's bridge network has no IPv4 gateway for containers to reach this host")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(gw, "0"))
	if err != nil {
		return nil, fmt.Errorf("EVM stand-in: listen on the bridge gateway %s (is the engine on this host?): %w", gw, err)
	}
	e := &evmStandin{URL: "http://" + ln.Addr().String(), Host: gw}
	e.block.Store(1_000_000)
	e.srv = &http.Server{Handler: http.HandlerFunc(e.serve), ReadHeaderTimeout: 5 * time.Second}
	go e.srv.Serve(ln)
	return e, nil
}

// bridgeGateway is the host's address on the engine's default bridge: the IPAM gateway when the engine names
// one (it often does not for "bridge"), else the IPv4 address of the bridge's interface on this host.
func bridgeGateway(configs []network.IPAMConfig, iface string) string {
	for _, c := range configs {
		if c.Gateway.Is4() {
			return c.Gateway.String()
		}
	}
	if iface == "" {
		iface = "docker0"
	}
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return ""
	}
	addrs, _ := ifc.Addrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return ""
}

func (e *evmStandin) serve(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil {
		http.Error(w, "JSON-RPC over POST only", http.StatusBadRequest)
		return
	}
	if e.failed.Load() {
		http.Error(w, "stand-in told to fail", http.StatusServiceUnavailable)
		return
	}
	answer := map[string]any{"jsonrpc": "2.0", "id": req.ID}
	switch req.Method {
	case "eth_chainId":
		answer["result"] = "0x" + strconv.FormatUint(baseChainID, 16)
	case "eth_blockNumber":
		answer["result"] = "0x" + strconv.FormatUint(e.block.Add(1), 16)
	default:
		answer["error"] = map[string]any{"code": -32601, "message": "method not found: " + req.Method}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer)
}

// Close stops the stand-in.
func (e *evmStandin) Close() {
	if e != nil {
		e.srv.Close()
	}
}
