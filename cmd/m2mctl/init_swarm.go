package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/stack"
)

// placement is where a Swarm runs the stack: the node of each TigerBeetle replica, and the edge node (connector,
// monitoring, the public BTP port). Nodes are named by ID; an empty ID is a choice not made yet.
type placement struct {
	replicas []string
	edge     string
}

// swarmNodes is the Swarm's node list as the manager reported it.
type swarmNodes []deployer.SwarmNode

func (ns swarmNodes) byID(id string) (deployer.SwarmNode, bool) {
	i := slices.IndexFunc(ns, func(n deployer.SwarmNode) bool { return n.ID == id })
	if i < 0 {
		return deployer.SwarmNode{}, false
	}
	return ns[i], true
}

// hostnamesDiffer reports whether every node has a hostname of its own.
func (ns swarmNodes) hostnamesDiffer() bool {
	seen := map[string]bool{}
	for _, n := range ns {
		if n.Hostname == "" || seen[n.Hostname] {
			return false
		}
		seen[n.Hostname] = true
	}
	return true
}

// nodeName is how a node is shown: its address and short ID. Hostnames are not unique across a Swarm.
func nodeName(n deployer.SwarmNode) string {
	if n.Addr == "" {
		return n.ShortID()
	}
	return n.Addr + " (" + n.ShortID() + ")"
}

// describe is a node's line in the list of nodes: address, short ID, role, state, and the m2m labels it
// carries; its hostname too when the nodes' hostnames tell them apart (cloned hosts often share one).
func (ns swarmNodes) describe(n deployer.SwarmNode) string {
	role := n.Role
	if n.Leader {
		role += ", leader"
	}
	s := fmt.Sprintf("%-15s  %s  %s, %s, %s", n.Addr, n.ShortID(), role, n.State, n.Availability)
	if ns.hostnamesDiffer() {
		s += "  " + n.Hostname
	}
	var holds []string
	if r, ok := n.Labels[stack.NodeLabelReplica]; ok {
		holds = append(holds, "replica "+r)
	}
	if n.Labels[stack.NodeLabelEdge] == "true" {
		holds = append(holds, "edge")
	}
	if len(holds) > 0 {
		s += "  [labelled: " + strings.Join(holds, ", ") + "]"
	}
	if n.Self {
		s += "  (this engine)"
	}
	return s
}

// findNode is the node ref names: its full ID, its address, or an unambiguous prefix of its ID — never its
// hostname, which every node of a Swarm may share.
func findNode(nodes swarmNodes, ref string) (deployer.SwarmNode, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return deployer.SwarmNode{}, errors.New("no node given")
	}
	for _, n := range nodes {
		if n.ID == ref || n.Addr == ref {
			return n, nil
		}
	}
	var matches []deployer.SwarmNode
	for _, n := range nodes {
		if strings.HasPrefix(n.ID, ref) {
			matches = append(matches, n)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return deployer.SwarmNode{}, fmt.Errorf("no node of the swarm has the ID or address %q; give one of: %s", ref, nodeNames(nodes))
	default:
		return deployer.SwarmNode{}, fmt.Errorf("%q is the start of the IDs of %s; give more of the ID", ref, nodeNames(matches))
	}
}

func nodeNames(nodes []deployer.SwarmNode) string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = nodeName(n)
	}
	return strings.Join(names, ", ")
}

// addressable reports whether the node has an address other nodes can reach: a replica listens on it.
func addressable(n deployer.SwarmNode) bool {
	ip, err := netip.ParseAddr(n.Addr)
	return err == nil && !ip.IsUnspecified() && !ip.IsLoopback()
}

// labelledReplica is the replica the node is labelled for, or -1.
func labelledReplica(n deployer.SwarmNode) int {
	v, ok := n.Labels[stack.NodeLabelReplica]
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return -1
	}
	return i
}

// defaultPlacement keeps what the labels already say, for the replicas and the edge; the replicas left go to
// the nodes that take tasks and hold no replica yet, this engine first, then by address; the edge, when no
// node is labelled for it, goes with replica 0. given are choices already made (by flags), kept as they are.
func defaultPlacement(nodes swarmNodes, n int, given placement) placement {
	p := placement{replicas: make([]string, n), edge: given.edge}
	copy(p.replicas, given.replicas)
	used := map[string]bool{}
	for _, id := range p.replicas {
		used[id] = id != ""
	}
	for _, node := range nodes {
		if i := labelledReplica(node); i >= 0 && i < n && p.replicas[i] == "" && !used[node.ID] {
			p.replicas[i], used[node.ID] = node.ID, true
		}
	}
	order := slices.Clone(nodes)
	slices.SortStableFunc(order, func(a, b deployer.SwarmNode) int {
		switch {
		case a.Self == b.Self:
			return 0
		case a.Self:
			return -1
		}
		return 1
	})
	// A node labelled for another replica may hold that replica's data: take it only when no other is free.
	for _, unlabelled := range []bool{true, false} {
		for i := range p.replicas {
			for _, node := range order {
				if p.replicas[i] != "" {
					break
				}
				if !used[node.ID] && node.Schedulable() && addressable(node) && (!unlabelled || labelledReplica(node) < 0) {
					p.replicas[i], used[node.ID] = node.ID, true
				}
			}
		}
	}
	if p.edge == "" {
		for _, node := range nodes {
			if node.Labels[stack.NodeLabelEdge] == "true" {
				p.edge = node.ID
				break
			}
		}
	}
	if p.edge == "" && n > 0 {
		p.edge = p.replicas[0]
	}
	return p
}

// notEnoughNodesError is a Swarm with fewer nodes free for replicas than the replica count.
type notEnoughNodesError struct{ have, want int }

func (e *notEnoughNodesError) Error() string {
	return fmt.Sprintf("%d replicas need %d nodes that take tasks and hold no other replica, and the swarm has %d: "+
		"join more nodes (docker swarm join-token worker, on a manager, prints the command), or run fewer replicas (--replicas 1)",
		e.want, e.want, e.have)
}

// checkPlacement reports the first choice that cannot stand: a replica without a node, two replicas on one
// node, a node that is not in the Swarm.
func checkPlacement(nodes swarmNodes, p placement) error {
	seen := map[string]int{}
	for i, id := range p.replicas {
		if id == "" {
			free := 0
			for _, n := range nodes {
				if n.Schedulable() {
					free++
				}
			}
			return fmt.Errorf("replica %d has no node: %w", i, &notEnoughNodesError{have: free, want: len(p.replicas)})
		}
		n, ok := nodes.byID(id)
		if !ok {
			return fmt.Errorf("replica %d: node %s is not in the swarm", i, id)
		}
		if !addressable(n) {
			return fmt.Errorf("replica %d: node %s reports no address the other nodes reach it on (%q), and TigerBeetle needs one: "+
				"have it rejoin the swarm with --advertise-addr IP, or choose another node", i, nodeName(n), n.Addr)
		}
		if j, dup := seen[id]; dup {
			return fmt.Errorf("replicas %d and %d are both on node %s: each replica needs its own node (its own disk and host)", j, i, nodeName(n))
		}
		seen[id] = i
	}
	if _, ok := nodes.byID(p.edge); !ok {
		return errors.New("no edge node: choose the node that publishes the BTP port")
	}
	return nil
}

// placementWarnings names the chosen nodes where the Swarm would not start a task now, and an edge that moves.
func placementWarnings(nodes swarmNodes, p placement) []string {
	var out []string
	note := func(what, id string) {
		if n, ok := nodes.byID(id); ok && !n.Schedulable() {
			out = append(out, fmt.Sprintf("%s is on node %s, which is %s and %s: the Swarm starts nothing there until it is ready and active",
				what, nodeName(n), n.State, n.Availability))
		}
	}
	for i, id := range p.replicas {
		note(fmt.Sprintf("replica %d", i), id)
	}
	note("the edge", p.edge)
	for _, n := range nodes {
		if n.Labels[stack.NodeLabelEdge] == "true" && n.ID != p.edge {
			out = append(out, fmt.Sprintf("the edge moves off node %s: the connector's, Prometheus's and Grafana's volumes stay there, "+
				"and start empty on the new edge node (a running stack moves there as soon as the labels change)", nodeName(n)))
		}
	}
	return out
}

// replicaMove is a node that loses its replica label: if the stack ever ran, that replica's data file is in a
// volume on the node, and it stays there.
type replicaMove struct {
	replica int
	from    deployer.SwarmNode
	to      string // the replica's new node ID; "" when the replica is no longer in the cluster
}

// replicaMoves lists the replica labels the placement takes off a node.
func replicaMoves(nodes swarmNodes, p placement) []replicaMove {
	var out []replicaMove
	for _, n := range nodes {
		i := labelledReplica(n)
		if i < 0 || (i < len(p.replicas) && p.replicas[i] == n.ID) {
			continue
		}
		m := replicaMove{replica: i, from: n}
		if i < len(p.replicas) {
			m.to = p.replicas[i]
		}
		out = append(out, m)
	}
	return out
}

// moveWarning says what a replica move leaves behind.
func moveWarning(nodes swarmNodes, m replicaMove, project string) string {
	volume := project + "_" + stack.ReplicaVolume(m.replica)
	// Swarm enforces placement constraints on running tasks when a node's labels change (swarmkit's constraint
	// enforcer): the label is the move.
	const keep = "A freshly formatted replica does not hold the cluster's data: keep each replica where its data is unless that node is lost for good. " +
		"A running stack follows the labels at once"
	to, ok := nodes.byID(m.to)
	if !ok {
		return fmt.Sprintf("replica %d leaves the cluster (fewer replicas); its data (volume %s) stays on node %s (%s). %s",
			m.replica, volume, m.from.Addr, m.from.ShortID(), keep)
	}
	return fmt.Sprintf("replica %d moves to node %s (%s), where it would be formatted anew, empty; its data (volume %s) stays on node %s (%s) and is not copied. %s",
		m.replica, to.Addr, to.ShortID(), volume, m.from.Addr, m.from.ShortID(), keep)
}

// labelChange is what one node's labels need: those to set and those to remove.
type labelChange struct {
	node   deployer.SwarmNode
	set    map[string]string
	remove []string
}

// labelChanges are the label updates that make the Swarm's labels say p: each replica's node labelled with its
// number, the edge node with io.m2m.edge=true, and those labels removed from every other node.
func labelChanges(nodes swarmNodes, p placement) []labelChange {
	var out []labelChange
	for _, n := range nodes {
		c := labelChange{node: n, set: map[string]string{}}
		if i := slices.Index(p.replicas, n.ID); i >= 0 {
			if v := strconv.Itoa(i); n.Labels[stack.NodeLabelReplica] != v {
				c.set[stack.NodeLabelReplica] = v
			}
		} else if _, ok := n.Labels[stack.NodeLabelReplica]; ok {
			c.remove = append(c.remove, stack.NodeLabelReplica)
		}
		if n.ID == p.edge {
			if n.Labels[stack.NodeLabelEdge] != "true" {
				c.set[stack.NodeLabelEdge] = "true"
			}
		} else if _, ok := n.Labels[stack.NodeLabelEdge]; ok {
			c.remove = append(c.remove, stack.NodeLabelEdge)
		}
		if len(c.set) > 0 || len(c.remove) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// command is the docker CLI command that makes the change, for an operator who labels by hand.
func (c labelChange) command() string {
	args := []string{"docker", "node", "update"}
	for _, k := range []string{stack.NodeLabelReplica, stack.NodeLabelEdge} {
		if v, ok := c.set[k]; ok {
			args = append(args, "--label-add", k+"="+v)
		}
	}
	for _, k := range c.remove {
		args = append(args, "--label-rm", k)
	}
	return strings.Join(append(args, c.node.ID), " ")
}

// replicaAddresses is TIGERBEETLE_REPLICA_ADDRESSES for p: each replica's node address with the port, in
// replica order.
func replicaAddresses(nodes swarmNodes, p placement, port int) string {
	addrs := make([]string, len(p.replicas))
	for i, id := range p.replicas {
		n, _ := nodes.byID(id)
		addrs[i] = net.JoinHostPort(n.Addr, strconv.Itoa(port))
	}
	return strings.Join(addrs, ",")
}

// parseReplicaNodes reads --replica-node values, each REPLICA=NODE (NODE: ID, ID prefix or address), into the
// node ID of each replica of n.
func parseReplicaNodes(nodes swarmNodes, values []string, n int) ([]string, error) {
	out := make([]string, n)
	var bad []string
	for _, v := range values {
		k, ref, ok := strings.Cut(v, "=")
		i, err := strconv.Atoi(strings.TrimSpace(k))
		switch {
		case !ok || err != nil:
			bad = append(bad, fmt.Sprintf("--replica-node %q: write REPLICA=NODE, such as 0=10.0.0.11 or 1=k3j2h1g5f6d7", v))
			continue
		case i < 0 || i >= n:
			bad = append(bad, fmt.Sprintf("--replica-node %q: replica %d does not exist with %d replicas (0 to %d)", v, i, n, n-1))
			continue
		case out[i] != "":
			bad = append(bad, fmt.Sprintf("--replica-node %q: replica %d is given twice", v, i))
			continue
		}
		node, err := findNode(nodes, ref)
		if err != nil {
			bad = append(bad, fmt.Sprintf("--replica-node %q: %v", v, err))
			continue
		}
		out[i] = node.ID
	}
	if len(bad) > 0 {
		return nil, errors.New(strings.Join(bad, "\n  "))
	}
	return out, nil
}
