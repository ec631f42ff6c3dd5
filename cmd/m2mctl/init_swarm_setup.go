package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

// swarmFlags are init's flags for a Swarm: where each replica and the edge go, and whether init labels.
type swarmFlags struct {
	replicaNodes []string // REPLICA=NODE
	edgeNode     string
	replicaPort  int
	portGiven    bool // --replica-port was given, not its default
	noLabel      bool
	moveReplicas bool
}

// given names the Swarm flags that were given, for the note that says they are not used with compose.
func (f swarmFlags) given() []string {
	var out []string
	for flag, set := range map[string]bool{"--replica-node": len(f.replicaNodes) > 0, "--edge-node": f.edgeNode != "",
		"--replica-port": f.portGiven, "--no-label": f.noLabel, "--move-replicas": f.moveReplicas} {
		if set {
			out = append(out, flag)
		}
	}
	slices.Sort(out)
	return out
}

// swarmSetup is init's work on a Swarm: the manager it talks to, the nodes it listed, the placement chosen.
type swarmSetup struct {
	flags   swarmFlags
	project string // COMPOSE_PROJECT_NAME: the replicas' volumes are named after it
	mgr     *deployer.Swarm
	nodes   swarmNodes
	given   placement // what the flags chose
	p       placement
	// confirmed are the replica moves the operator confirmed in the wizard (movesKey).
	confirmed string
}

// connect opens the manager named by DOCKER_HOST (or the default socket) and lists its nodes, once.
func (s *swarmSetup) connect(ctx context.Context) error {
	if s.mgr != nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	mgr, err := deployer.OpenManager(cctx)
	if err != nil {
		return explainManagerError(err)
	}
	nodes, err := mgr.SwarmNodes(cctx)
	if err != nil {
		mgr.Close()
		return err
	}
	s.mgr, s.nodes = mgr, nodes
	return nil
}

func (s *swarmSetup) close() {
	if s.mgr != nil {
		s.mgr.Close()
	}
}

// explainManagerError says how to reach a manager when the engine is not one.
func explainManagerError(err error) error {
	what := "--target " + settings.TargetSwarm + " (" + settings.DeployTarget + "=" + settings.TargetSwarm + ")"
	var nm *deployer.NotManagerError
	if !errors.As(err, &nm) {
		return fmt.Errorf("%s: %w", what, err)
	}
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	if nm.State == "active" {
		return fmt.Errorf("%s lists and labels the swarm's nodes through a manager, and the engine at %s is a worker: "+
			"run m2mctl init on a manager, or point DOCKER_HOST at one (DOCKER_HOST=ssh://user@manager; docker node ls on a manager lists them)",
			what, host)
	}
	return fmt.Errorf("%s lists and labels the swarm's nodes through a manager, and the engine at %s is not in a swarm (state %s): "+
		"run docker swarm init here (then docker swarm join on the other hosts), or point DOCKER_HOST at a manager "+
		"(DOCKER_HOST=ssh://user@manager); or choose --target compose", what, host, nm.State)
}

// fromFlags reads --replica-node and --edge-node for n replicas; errors name the flag and the value.
func (s *swarmSetup) fromFlags(n int) error {
	replicas, err := parseReplicaNodes(s.nodes, s.flags.replicaNodes, n)
	if err != nil {
		return err
	}
	s.given = placement{replicas: replicas}
	if s.flags.edgeNode != "" {
		node, err := findNode(s.nodes, s.flags.edgeNode)
		if err != nil {
			return fmt.Errorf("--edge-node %q: %w", s.flags.edgeNode, err)
		}
		s.given.edge = node.ID
	}
	return nil
}

// place chooses, without asking, the placement of n replicas: the flags', then defaultPlacement. Every
// problem is a usage error naming the flag that settles it.
func (s *swarmSetup) place(n int, warn io.Writer) error {
	if err := s.fromFlags(n); err != nil {
		return usageErrorf("bad placement flags; nothing was written:\n  %v", err)
	}
	s.p = defaultPlacement(s.nodes, n, s.given)
	if err := checkPlacement(s.nodes, s.p); err != nil {
		return usageErrorf("%v; nothing was written. The swarm's nodes:\n%s\nChoose with --replica-node REPLICA=NODE and --edge-node NODE", err, nodeTable(s.nodes))
	}
	moves := replicaMoves(s.nodes, s.p)
	if len(moves) > 0 && !s.flags.moveReplicas {
		return usageErrorf("%s; nothing was written or labelled: give --replica-node to keep each replica on its node, or --move-replicas to move the labels all the same",
			strings.Join(moveWarnings(s.nodes, moves, s.project), "; "))
	}
	for _, w := range moveWarnings(s.nodes, moves, s.project) {
		fmt.Fprintf(warn, "WARNING: %s\n", w)
	}
	for _, w := range placementWarnings(s.nodes, s.p) {
		fmt.Fprintf(warn, "warning: %s\n", w)
	}
	return nil
}

func moveWarnings(nodes swarmNodes, moves []replicaMove, project string) []string {
	out := make([]string, len(moves))
	for i, m := range moves {
		out[i] = moveWarning(nodes, m, project)
	}
	return out
}

// nodeTable lists the nodes, one a line, indented.
func nodeTable(nodes swarmNodes) string {
	lines := make([]string, len(nodes))
	for i, n := range nodes {
		lines[i] = "  " + nodes.describe(n)
	}
	return strings.Join(lines, "\n")
}

// placementText says where everything runs, one line each, for the summary and the final report.
func placementText(nodes swarmNodes, p placement) string {
	var b strings.Builder
	for i, id := range p.replicas {
		n, _ := nodes.byID(id)
		fmt.Fprintf(&b, "  replica %d  on %s\n", i, nodeName(n))
	}
	n, _ := nodes.byID(p.edge)
	fmt.Fprintf(&b, "  edge       on %s (connector, Prometheus, Grafana, BTP port)\n", nodeName(n))
	return b.String()
}

// label makes the nodes' labels say the placement, through the manager; with --no-label, or for the nodes
// whose update was refused, it prints the docker commands that do it instead.
func (s *swarmSetup) label(ctx context.Context, out io.Writer) error {
	changes := labelChanges(s.nodes, s.p)
	if len(changes) == 0 {
		fmt.Fprintln(out, "The nodes already carry these labels.")
		return nil
	}
	if s.flags.noLabel {
		fmt.Fprintln(out, "Label the nodes (--no-label: not done); on a manager, run:")
		for _, c := range changes {
			fmt.Fprintf(out, "  %s\n", c.command())
		}
		return nil
	}
	var failed []labelChange
	var errs []error
	for _, c := range changes {
		if err := s.mgr.SetNodeLabels(ctx, c.node.ID, c.set, c.remove); err != nil {
			failed, errs = append(failed, c), append(errs, err)
			continue
		}
		fmt.Fprintf(out, "Labelled node %s: %s\n", nodeName(c.node), c.summary())
	}
	if len(failed) == 0 {
		return nil
	}
	fmt.Fprintln(out, "These nodes were not labelled; on a manager, run:")
	for _, c := range failed {
		fmt.Fprintf(out, "  %s\n", c.command())
	}
	return fmt.Errorf("the .env is written, but %d node(s) kept their old labels (%w): run the commands above, then m2mctl up",
		len(failed), errors.Join(errs...))
}

// summary is the change in words: "io.m2m.tigerbeetle.replica=0, io.m2m.edge=true, without io.m2m.edge".
func (c labelChange) summary() string {
	var parts []string
	for _, k := range []string{stack.NodeLabelReplica, stack.NodeLabelEdge} {
		if v, ok := c.set[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	for _, k := range c.remove {
		parts = append(parts, "without "+k)
	}
	return strings.Join(parts, ", ")
}
