package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/test/standin/evmnode"
)

// evmStandin is the EVM node stand-in (test/standin/evmnode) that a connector settling on EVM checks for
// readiness, listening on the engine's default bridge gateway, which containers on any bridge network reach.
type evmStandin struct {
	*evmnode.Node
	Host string // the host's address as containers reach it
}

func startEVMStandin(ctx context.Context, cli *dockerClient) (*evmStandin, error) {
	res, err := cli.NetworkInspect(ctx, "bridge", client.NetworkInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("EVM stand-in: inspect the engine's bridge network: %w", err)
	}
	gw := bridgeGateway(res.Network.IPAM.Config, res.Network.Options["com.docker.network.bridge.name"])
	if gw == "" {
		return nil, errors.New("EVM stand-in: the engine's bridge network has no IPv4 gateway for containers to reach this host")
	}
	n, err := evmnode.Listen(net.JoinHostPort(gw, "0"))
	if err != nil {
		return nil, fmt.Errorf("%w (is the engine on this host?)", err)
	}
	return &evmStandin{Node: n, Host: gw}, nil
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

// Close stops the stand-in.
func (e *evmStandin) Close() {
	if e != nil {
		e.Node.Close()
	}
}
