package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

// The full-screen placement page: each replica's select starts on its default node, and a node that already
// holds another replica is refused as it is chosen.
func TestPlacementFormRefusesANodeThatHoldsAnotherReplica(t *testing.T) {
	w := newTestWizard(t)
	nodes := testNodes()
	w.swarm = &swarmSetup{nodes: nodes, given: placement{replicas: make([]string, 3)}, flags: swarmFlags{replicaPort: 3000}}
	p := defaultPlacement(nodes, 3, placement{})
	items := w.placementItems(&p)
	if len(items) != 4 {
		t.Fatalf("%d fields, want one per replica and the edge", len(items))
	}
	form := w.form(placementTitle, items)
	form.SubmitCmd = tea.Quit
	tm := teatest.NewTestModel(t, form, teatest.WithInitialTermSize(140, 60))
	waitForView(t, tm, "(this engine)") // the nodes, each with what it is
	tm.Send(key(tea.KeyEnter))          // keep 10.0.0.12, this engine's node
	waitForView(t, tm, "┃ Which node holds replica 1?")
	tm.Send(key(tea.KeyDown)) // from 10.0.0.11 to 10.0.0.12, replica 0's
	tm.Send(key(tea.KeyEnter))
	waitForView(t, tm, "already holds replica 0")
	tm.Send(key(tea.KeyDown)) // 10.0.0.13
	tm.Send(key(tea.KeyEnter))
	waitForView(t, tm, "┃ Which node holds replica 2?")
	tm.Send(key(tea.KeyEnter)) // keep 10.0.0.14
	waitForView(t, tm, "┃ Which node is the public edge?")
	tm.Send(key(tea.KeyDown)) // from 10.0.0.12 to 10.0.0.13
	tm.Send(key(tea.KeyEnter))
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))

	var got []string
	for _, id := range append(slices.Clone(p.replicas), p.edge) {
		n, _ := nodes.byID(id)
		got = append(got, n.Addr)
	}
	if want := []string{"10.0.0.12", "10.0.0.13", "10.0.0.14", "10.0.0.13"}; !slices.Equal(got, want) {
		t.Errorf("replicas and edge on %v, want %v", got, want)
	}
	if err := checkPlacement(nodes, p); err != nil {
		t.Errorf("the form's placement does not stand: %v", err)
	}
}

// Line by line: a node that holds another replica is refused as it is chosen; moving a replica off the node
// labelled for it shows where its data stays and needs a yes — "no" asks again.
func TestPlacementAccessibleConfirmsAReplicaMove(t *testing.T) {
	nodes := withLabels(testNodes(), map[int]map[string]string{
		0: {stack.NodeLabelReplica: "0", stack.NodeLabelEdge: "true"},
		1: {stack.NodeLabelReplica: "1"},
		3: {stack.NodeLabelReplica: "2"},
	})
	tests := []struct {
		name  string
		lines []string
		want  string // replica 0's node
	}{
		//                                   r0   r0   r1  r2  edge move r0   r1  r2  edge
		{"refused, then kept", []string{"4", "3", "", "", "", "n", "1", "", "", ""}, "10.0.0.11"},
		{"confirmed", []string{"4", "3", "", "", "", "y"}, "10.0.0.13"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			w := newTestWizard(t)
			w.accessible, w.in, w.out = true, newLineReader(linePipe(t, tt.lines)), &out
			w.a.set(settings.TigerBeetleReplicaCount, "3")
			// A manager is open already: askPlacement asks it nothing more than the nodes given here.
			w.swarm = &swarmSetup{mgr: &deployer.Swarm{}, nodes: nodes, flags: swarmFlags{replicaPort: 3000}}
			if err := w.askPlacement(context.Background()); err != nil {
				t.Fatalf("askPlacement: %v\n%s", err, out.String())
			}
			n, _ := nodes.byID(w.swarm.p.replicas[0])
			if n.Addr != tt.want {
				t.Errorf("replica 0 on %s, want %s", n.Addr, tt.want)
			}
			for _, shown := range []string{"node 10.0.0.14 (dddd4444eeee) already holds replica 2",
				"WARNING: replica 0 moves to node 10.0.0.13 (cccc3333dddd)", "stays on node 10.0.0.11 (aaaa1111bbbb)"} {
				if !strings.Contains(out.String(), shown) {
					t.Errorf("the dialogue does not show %q:\n%s", shown, out.String())
				}
			}
		})
	}
}

// The wizard does not ask for a placement that cannot be: three replicas on a two-node swarm.
func TestPlacementIsNotAskedOnTooFewNodes(t *testing.T) {
	w := newTestWizard(t)
	var out strings.Builder
	w.accessible, w.in, w.out = true, newLineReader(strings.NewReader("")), &out
	w.a.set(settings.TigerBeetleReplicaCount, "3")
	w.swarm = &swarmSetup{mgr: &deployer.Swarm{}, nodes: testNodes()[:2]}
	err := w.askPlacement(context.Background())
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "3 replicas need 3 nodes") || !strings.Contains(err.Error(), "--replicas 1") {
		t.Errorf("askPlacement on two nodes: %v, want a usage error with the way out", err)
	}
	if strings.Contains(out.String(), "Which node holds") {
		t.Errorf("a replica's node was asked for:\n%s", out.String())
	}
}
