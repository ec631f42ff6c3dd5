package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/huh"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/stack/settings"
)

const placementTitle = "Swarm placement"

// askPlacement asks which node holds each TigerBeetle replica and which node is the edge, for the choices the
// flags did not make. The defaults are the last round's answers, else what the labels say, else
// defaultPlacement's order. Taking a replica's label off the node that holds its data needs a confirmation.
func (w *wizard) askPlacement(ctx context.Context) error {
	s := w.swarm
	if err := s.connect(ctx); err != nil {
		return err
	}
	n := settings.Values{settings.TigerBeetleReplicaCount: w.a.get(settings.TigerBeetleReplicaCount)}.ReplicaCount()
	if err := s.fromFlags(n); err != nil {
		return usageErrorf("bad placement flags; nothing was written:\n  %v", err)
	}
	// With fewer nodes than replicas no answer would do: say so rather than ask.
	if have := len(slices.DeleteFunc(slices.Clone(s.nodes), func(n deployer.SwarmNode) bool { return !addressable(n) })); have < n {
		return usageErrorf("%v; nothing was written. The swarm's nodes:\n%s", &notEnoughNodesError{have: have, want: n}, nodeTable(s.nodes))
	}
	for {
		p := defaultPlacement(s.nodes, n, w.lastPlacement(n))
		items := w.placementItems(&p)
		if len(items) > 0 {
			fmt.Fprintf(w.out, "\nThe swarm's nodes (as its manager reports them; hostnames are not used, nodes may share one):\n%s\n", nodeTable(s.nodes))
			if err := w.runItems(ctx, placementTitle, items); err != nil {
				return err
			}
		}
		if err := checkPlacement(s.nodes, p); err != nil {
			if len(items) == 0 { // all chosen by flags: asking again would not change it
				return usageErrorf("%v; nothing was written", err)
			}
			fmt.Fprintf(w.out, "%v\n", err)
			s.p = p
			continue
		}
		s.p = p
		moves := replicaMoves(s.nodes, p)
		if len(moves) > 0 && !s.flags.moveReplicas && s.confirmed != movesKey(moves) {
			ok, err := w.confirmMoves(ctx, moves)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			s.confirmed = movesKey(moves) // asked again only if another round moves other replicas
		}
		for _, warning := range placementWarnings(s.nodes, p) {
			fmt.Fprintf(w.out, "warning: %s\n", warning)
		}
		return nil
	}
}

// lastPlacement is what the flags chose, completed by the previous round's answers where they still fit.
func (w *wizard) lastPlacement(n int) placement {
	s := w.swarm
	p := placement{replicas: make([]string, n), edge: s.given.edge}
	copy(p.replicas, s.given.replicas)
	for i, id := range s.p.replicas {
		if i < n && p.replicas[i] == "" && !slices.Contains(p.replicas, id) {
			p.replicas[i] = id
		}
	}
	if p.edge == "" {
		p.edge = s.p.edge
	}
	return p
}

// placementItems are the selects for the choices the flags left open, bound to p.
func (w *wizard) placementItems(p *placement) []item {
	s := w.swarm
	options := make([]huh.Option[string], len(s.nodes))
	for i, n := range s.nodes {
		options[i] = huh.NewOption(s.nodes.describe(n), n.ID)
	}
	var items []item
	for i := range p.replicas {
		if s.given.replicas[i] != "" {
			continue
		}
		help := fmt.Sprintf("TigerBeetle replica %d keeps its data file on this node's disk and listens on the node's address; "+
			"each replica needs its own node.", i)
		help += w.keepHint(p.replicas[i])
		validate := func(id string) error {
			if w.inputEnded() {
				return nil // runAccessible reports it
			}
			return replicaNodeFree(s.nodes, *p, i, id)
		}
		f := huh.NewSelect[string]().Title(fmt.Sprintf("Which node holds replica %d?", i)).Description(help).
			Options(options...).Value(&p.replicas[i]).Validate(validate)
		items = append(items, item{field: f, help: help, label: fmt.Sprintf("the node of replica %d", i),
			check: func() error { return replicaNodeFree(s.nodes, *p, i, p.replicas[i]) }})
	}
	if s.given.edge == "" {
		help := "The edge node runs the connector, Prometheus and Grafana and publishes the BTP port: " +
			"point the node's public DNS name at it. It may also hold a replica." + w.keepHint(p.edge)
		f := huh.NewSelect[string]().Title("Which node is the public edge?").Description(help).Options(options...).Value(&p.edge)
		items = append(items, item{field: f, help: help, label: "the edge node"})
	}
	return items
}

// keepHint tells, in accessible mode, which node Enter keeps.
func (w *wizard) keepHint(id string) string {
	if n, ok := w.swarm.nodes.byID(id); ok && w.accessible {
		return "\nPress Enter to keep " + nodeName(n) + "."
	}
	return ""
}

// inputEnded reports whether the accessible mode's input has ended (huh then offers the default forever).
func (w *wizard) inputEnded() bool {
	lr, ok := w.in.(*lineReader)
	return ok && lr.eof
}

// replicaNodeFree checks that no other replica is on node id.
func replicaNodeFree(nodes swarmNodes, p placement, i int, id string) error {
	for j, other := range p.replicas {
		if j != i && other == id {
			n, _ := nodes.byID(id)
			return fmt.Errorf("node %s already holds replica %d: each replica needs its own node", nodeName(n), j)
		}
	}
	return nil
}

// confirmMoves shows what moving replica labels leaves behind and asks whether to do it anyway.
func (w *wizard) confirmMoves(ctx context.Context, moves []replicaMove) (bool, error) {
	ok := false
	text := "WARNING: " + strings.Join(moveWarnings(w.swarm.nodes, moves, w.swarm.project), "\nWARNING: ")
	confirm := huh.NewConfirm().Title("Move these replica labels anyway?").Description(text).
		Affirmative("Yes, move them").Negative("No, choose again").Value(&ok)
	if err := w.runItems(ctx, placementTitle, []item{{field: confirm, help: text}}); err != nil {
		return false, err
	}
	return ok, nil
}

// placementSummary is the Swarm part of the summary: where everything runs and the addresses it gives.
func placementSummary(s *swarmSetup, width int) string {
	return fmt.Sprintf("\nOn the swarm:\n%s%-*s  %s", placementText(s.nodes, s.p), width, settings.TigerBeetleReplicaAddresses,
		replicaAddresses(s.nodes, s.p, s.flags.replicaPort))
}

// movesKey identifies a set of replica moves, so that a confirmation covers those moves and no others.
func movesKey(moves []replicaMove) string {
	var b strings.Builder
	for _, m := range moves {
		fmt.Fprintf(&b, "%d:%s>%s;", m.replica, m.from.ID, m.to)
	}
	return b.String()
}
