package main

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

// checkSwarmLabels stops a deploy to a Swarm whose node labels do not say what the .env says: a replica no node
// is labelled for never starts, and one whose node is not at its entry of TIGERBEETLE_REPLICA_ADDRESSES
// listens where no other replica looks for it. Other targets pass.
func checkSwarmLabels(ctx context.Context, target deployer.Target, envFile string) error {
	sw, ok := target.(*deployer.Swarm)
	if !ok {
		return nil
	}
	v, err := settings.Load(envFile)
	if err != nil {
		return nil // the stack was loaded from it: nothing new to say
	}
	nodes, err := sw.SwarmNodes(ctx)
	if err != nil {
		return err
	}
	problems := swarmLabelProblems(nodes, v)
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("the swarm's node labels do not match %s; nothing was deployed:\n  %s\n"+
		"run m2mctl init --update --target swarm on a manager (it lists the nodes and labels them), or label them by hand: "+
		"docker node update --label-add %s=N NODE", envFile, strings.Join(problems, "\n  "), stack.NodeLabelReplica)
}

// swarmLabelProblems compares the labels with the settings: each replica's label on exactly one node, at the
// replica's address, and one edge node.
func swarmLabelProblems(nodes swarmNodes, v settings.Values) []string {
	var out []string
	addrs := strings.Split(v.String(settings.TigerBeetleReplicaAddresses), ",")
	for i := range v.ReplicaCount() {
		var holders []deployer.SwarmNode
		for _, n := range nodes {
			if labelledReplica(n) == i {
				holders = append(holders, n)
			}
		}
		switch {
		case len(holders) == 0:
			out = append(out, fmt.Sprintf("no node is labelled %s=%d: replica %d would never start", stack.NodeLabelReplica, i, i))
		case len(holders) > 1:
			out = append(out, fmt.Sprintf("nodes %s are all labelled %s=%d: replica %d would start on any of them, away from its data",
				nodeNames(holders), stack.NodeLabelReplica, i, i))
		case i < len(addrs):
			ap, err := netip.ParseAddrPort(strings.TrimSpace(addrs[i]))
			if err == nil && ap.Addr().String() != holders[0].Addr {
				out = append(out, fmt.Sprintf("replica %d is labelled on node %s, but %s gives it %s: it would listen where the others do not look for it",
					i, nodeName(holders[0]), settings.TigerBeetleReplicaAddresses, addrs[i]))
			}
		}
	}
	var edges []deployer.SwarmNode
	for _, n := range nodes {
		if n.Labels[stack.NodeLabelEdge] == "true" {
			edges = append(edges, n)
		}
	}
	switch {
	case len(edges) == 0:
		out = append(out, fmt.Sprintf("no node is labelled %s=true: the connector, Prometheus and Grafana would never start", stack.NodeLabelEdge))
	case len(edges) > 1:
		out = append(out, fmt.Sprintf("nodes %s are all labelled %s=true: the connector and monitoring would start on any of them, away from their data",
			nodeNames(edges), stack.NodeLabelEdge))
	}
	return out
}
