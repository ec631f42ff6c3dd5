package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/stack"
)

// testNodes is a four-node swarm whose nodes all report the same hostname, as cloned machines do. Node .13 is
// drained; the manager m2mctl talks to is .12.
func testNodes() swarmNodes {
	node := func(id, addr string, self bool, availability string, labels map[string]string) deployer.SwarmNode {
		return deployer.SwarmNode{ID: id, Addr: addr, Hostname: "node", Role: "worker", Availability: availability,
			State: "ready", Self: self, Labels: labels}
	}
	return swarmNodes{
		node("aaaa1111bbbb2222cccc3333d", "10.0.0.11", false, "active", nil),
		node("aaaa9999eeee8888ffff7777g", "10.0.0.12", true, "active", nil),
		node("cccc3333dddd4444eeee5555h", "10.0.0.13", false, "drain", nil),
		node("dddd4444eeee5555ffff6666i", "10.0.0.14", false, "active", nil),
	}
}

func withLabels(nodes swarmNodes, labels map[int]map[string]string) swarmNodes {
	out := slices.Clone(nodes)
	for i, l := range labels {
		out[i].Labels = l
	}
	return out
}

func TestFindNodeTakesIDPrefixOrAddressNeverHostname(t *testing.T) {
	nodes := testNodes()
	tests := []struct {
		ref, want, err string
	}{
		{ref: "aaaa1111bbbb2222cccc3333d", want: "10.0.0.11"},
		{ref: "aaaa11", want: "10.0.0.11"},
		{ref: "10.0.0.14", want: "10.0.0.14"},
		{ref: " dddd ", want: "10.0.0.14"},
		{ref: "aaaa", err: `"aaaa" is the start of the IDs of 10.0.0.11 (aaaa1111bbbb), 10.0.0.12 (aaaa9999eeee); give more of the ID`},
		{ref: "node", err: `no node of the swarm has the ID or address "node"; give one of: 10.0.0.11 (aaaa1111bbbb)`},
		{ref: "10.0.0.99", err: `no node of the swarm has the ID or address "10.0.0.99"`},
		{ref: "", err: "no node given"},
	}
	for _, tt := range tests {
		n, err := findNode(nodes, tt.ref)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("findNode(%q) = %v, %v; want the error %q", tt.ref, n.Addr, err, tt.err)
		case tt.err == "" && (err != nil || n.Addr != tt.want):
			t.Errorf("findNode(%q) = %v, %v; want %s", tt.ref, n.Addr, err, tt.want)
		}
	}
}

func TestDefaultPlacement(t *testing.T) {
	ids := func(nodes swarmNodes, addrs ...string) []string {
		out := make([]string, len(addrs))
		for i, a := range addrs {
			if k := slices.IndexFunc(nodes, func(n deployer.SwarmNode) bool { return n.Addr == a }); k >= 0 {
				out[i] = nodes[k].ID
			}
		}
		return out
	}
	plain := testNodes()
	labelled := withLabels(plain, map[int]map[string]string{
		0: {stack.NodeLabelReplica: "2", "zone": "a"},
		3: {stack.NodeLabelReplica: "0", stack.NodeLabelEdge: "true"},
	})
	tests := []struct {
		name     string
		nodes    swarmNodes
		n        int
		given    placement
		replicas []string // addresses; "" for none
		edge     string
	}{
		{"no labels: this engine first, then by address, drained nodes skipped; the edge with replica 0",
			plain, 3, placement{}, []string{"10.0.0.12", "10.0.0.11", "10.0.0.14"}, "10.0.0.12"},
		{"labels kept, the replica left to this engine; the labelled edge kept",
			labelled, 3, placement{}, []string{"10.0.0.14", "10.0.0.12", "10.0.0.11"}, "10.0.0.14"},
		{"a flag's choice wins over a label, and the labelled node goes to another replica only last",
			labelled, 3, placement{replicas: ids(labelled, "10.0.0.11", "", "")}, []string{"10.0.0.11", "10.0.0.12", "10.0.0.14"}, "10.0.0.14"},
		{"one replica", plain, 1, placement{edge: ids(plain, "10.0.0.14")[0]}, []string{"10.0.0.12"}, "10.0.0.14"},
		{"too few nodes that take tasks", plain, 6, placement{}, []string{"10.0.0.12", "10.0.0.11", "10.0.0.14", "", "", ""}, "10.0.0.12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := defaultPlacement(tt.nodes, tt.n, tt.given)
			var got []string
			for _, id := range p.replicas {
				n, _ := tt.nodes.byID(id)
				got = append(got, n.Addr)
			}
			edge, _ := tt.nodes.byID(p.edge)
			if !slices.Equal(got, tt.replicas) || edge.Addr != tt.edge {
				t.Errorf("replicas on %v, edge on %s; want %v and %s", got, edge.Addr, tt.replicas, tt.edge)
			}
		})
	}
}

func TestCheckPlacementRefusesSharedAndMissingNodes(t *testing.T) {
	nodes := testNodes()
	a, b := nodes[0].ID, nodes[1].ID
	tests := []struct {
		p    placement
		want string
	}{
		{placement{replicas: []string{a, b}, edge: a}, ""},
		{placement{replicas: []string{a, a}, edge: a}, "replicas 0 and 1 are both on node 10.0.0.11 (aaaa1111bbbb): each replica needs its own node"},
		{placement{replicas: []string{a, "gone"}, edge: a}, "replica 1: node gone is not in the swarm"},
		{placement{replicas: []string{a, b}}, "no edge node"},
	}
	for _, tt := range tests {
		err := checkPlacement(nodes, tt.p)
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("checkPlacement(%v) = %v, want %q", tt.p, err, tt.want)
		}
	}
	nowhere := slices.Clone(nodes)
	nowhere[1].Addr = "0.0.0.0"
	err := checkPlacement(nowhere, placement{replicas: []string{a, b}, edge: a})
	if want := `replica 1: node 0.0.0.0 (aaaa9999eeee) reports no address the other nodes reach it on ("0.0.0.0")`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("checkPlacement with a node without an address = %v, want %q", err, want)
	}
	if p := defaultPlacement(nowhere, 1, placement{}); p.replicas[0] != nodes[0].ID {
		t.Errorf("defaultPlacement chose %s for replica 0, want the first node with an address", p.replicas[0])
	}
	one := swarmNodes{nodes[0], nodes[2]} // one node takes tasks, the other is drained
	err = checkPlacement(one, placement{replicas: []string{a, ""}, edge: a})
	if want := "replica 1 has no node: 2 replicas need 2 nodes that take tasks and hold no other replica, and the swarm has 1"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("checkPlacement with too few nodes = %v, want %q", err, want)
	}
	warnings := placementWarnings(nodes, placement{replicas: []string{nodes[2].ID}, edge: a})
	if len(warnings) != 1 || !strings.Contains(warnings[0], "replica 0 is on node 10.0.0.13 (cccc3333dddd), which is ready and drain") {
		t.Errorf("placementWarnings for a drained node = %q", warnings)
	}
	moved := withLabels(nodes, map[int]map[string]string{3: {stack.NodeLabelEdge: "true"}})
	warnings = placementWarnings(moved, placement{replicas: []string{a}, edge: a})
	if len(warnings) != 1 || !strings.Contains(warnings[0], "the edge moves off node 10.0.0.14 (dddd4444eeee): the connector's, Prometheus's and Grafana's volumes stay there") {
		t.Errorf("placementWarnings for a moved edge = %q", warnings)
	}
}

// A replica's label leaves its node only knowingly: its data stays there.
func TestReplicaMovesNameTheNodeThatKeepsTheData(t *testing.T) {
	nodes := withLabels(testNodes(), map[int]map[string]string{
		0: {stack.NodeLabelReplica: "0"},
		1: {stack.NodeLabelReplica: "1"},
		3: {stack.NodeLabelReplica: "2"},
	})
	kept := placement{replicas: []string{nodes[0].ID, nodes[1].ID, nodes[3].ID}, edge: nodes[0].ID}
	if m := replicaMoves(nodes, kept); len(m) != 0 {
		t.Errorf("replicaMoves when every replica stays = %v", m)
	}
	swapped := placement{replicas: []string{nodes[1].ID, nodes[0].ID}, edge: nodes[0].ID}
	moves := replicaMoves(nodes, swapped)
	if len(moves) != 3 || moves[0].replica != 0 || moves[0].to != nodes[1].ID || moves[2].replica != 2 || moves[2].to != "" {
		t.Fatalf("replicaMoves of a swap to two replicas = %+v", moves)
	}
	w := moveWarning(nodes, moves[0], "m2m")
	for _, want := range []string{"replica 0 moves to node 10.0.0.12 (aaaa9999eeee)", "volume m2m_tigerbeetle-data-0", "stays on node 10.0.0.11 (aaaa1111bbbb)"} {
		if !strings.Contains(w, want) {
			t.Errorf("the warning %q does not say %q", w, want)
		}
	}
	if w := moveWarning(nodes, moves[2], "m2m"); !strings.Contains(w, "replica 2 leaves the cluster") {
		t.Errorf("the warning for a replica beyond the count: %q", w)
	}
}

func TestLabelChangesAndTheCommandsThatMakeThem(t *testing.T) {
	nodes := withLabels(testNodes(), map[int]map[string]string{
		0: {stack.NodeLabelReplica: "0", "zone": "a"},                        // kept as it is
		1: {stack.NodeLabelReplica: "2", stack.NodeLabelEdge: "true"},        // becomes replica 1, loses the edge
		3: {stack.NodeLabelReplica: "1", stack.NodeLabelEdge: "false"},       // loses both
		2: {stack.NodeLabelEdge: "true", stack.NodeLabelReplica: "not-a-no"}, // a label m2m did not write: replaced
	})
	p := placement{replicas: []string{nodes[0].ID, nodes[1].ID, nodes[2].ID}, edge: nodes[0].ID}
	var got []string
	for _, c := range labelChanges(nodes, p) {
		got = append(got, c.command())
	}
	want := []string{
		"docker node update --label-add io.m2m.edge=true aaaa1111bbbb2222cccc3333d",
		"docker node update --label-add io.m2m.tigerbeetle.replica=1 --label-rm io.m2m.edge aaaa9999eeee8888ffff7777g",
		"docker node update --label-add io.m2m.tigerbeetle.replica=2 --label-rm io.m2m.edge cccc3333dddd4444eeee5555h",
		"docker node update --label-rm io.m2m.tigerbeetle.replica --label-rm io.m2m.edge dddd4444eeee5555ffff6666i",
	}
	if !slices.Equal(got, want) {
		t.Errorf("commands:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if c := labelChanges(withLabels(nodes, map[int]map[string]string{0: {stack.NodeLabelReplica: "0", stack.NodeLabelEdge: "true"},
		1: {stack.NodeLabelReplica: "1"}, 2: {stack.NodeLabelReplica: "2"}, 3: nil}), p); len(c) != 0 {
		t.Errorf("labelChanges when the labels say it already = %v", c)
	}
	if got := replicaAddresses(nodes, p, 3001); got != "10.0.0.11:3001,10.0.0.12:3001,10.0.0.13:3001" {
		t.Errorf("replicaAddresses = %s", got)
	}
}

func TestParseReplicaNodesNamesTheFlagAndTheValue(t *testing.T) {
	nodes := testNodes()
	got, err := parseReplicaNodes(nodes, []string{"1=10.0.0.14", "0=aaaa1"}, 3)
	if err != nil || !slices.Equal(got, []string{nodes[0].ID, nodes[3].ID, ""}) {
		t.Errorf("parseReplicaNodes = %v, %v", got, err)
	}
	_, err = parseReplicaNodes(nodes, []string{"10.0.0.11", "3=10.0.0.11", "0=10.0.0.11", "0=10.0.0.12", "1=nowhere"}, 3)
	for _, want := range []string{
		`--replica-node "10.0.0.11": write REPLICA=NODE`,
		`--replica-node "3=10.0.0.11": replica 3 does not exist with 3 replicas (0 to 2)`,
		`--replica-node "0=10.0.0.12": replica 0 is given twice`,
		`--replica-node "1=nowhere": no node of the swarm has the ID or address "nowhere"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseReplicaNodes error %v; want it to say %q", err, want)
		}
	}
}

// Without a reachable manager, --target swarm stops before writing anything and says how to reach one.
func TestInitSwarmWithoutAnEngineSaysWhereItLooked(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no.sock"))
	path := filepath.Join(t.TempDir(), ".env")
	res := runInit(t, strings.NewReader(""), "--yes", "--output", path, "--target", "swarm", "--settlement", "xrp",
		"--xrp-address", testXRPAddress, "--key-backend", "aws-kms", "--aws-region", "eu-west-1", "--aws-kms-xrp-key-id", "k")
	if res.code != exitFailed || !strings.Contains(res.stderr, "--target swarm") || !strings.Contains(res.stderr, "no.sock") {
		t.Errorf("exit %d, stderr %q; want exit 1 naming --target swarm and the socket", res.code, res.stderr)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a .env was written (stat: %v)", err)
	}
}

// Scripted, a replica move is refused without --move-replicas, and warned about with it, naming the volume
// of the project that stays behind.
func TestPlaceRefusesAReplicaMoveUnlessAllowed(t *testing.T) {
	nodes := withLabels(testNodes(), map[int]map[string]string{0: {stack.NodeLabelReplica: "0"}})
	for _, allow := range []bool{false, true} {
		var warn strings.Builder
		s := &swarmSetup{nodes: nodes, project: "edge-a", flags: swarmFlags{replicaNodes: []string{"0=10.0.0.14"}, moveReplicas: allow}}
		err := s.place(1, &warn)
		const volume = "its data (volume edge-a_tigerbeetle-data-0) stays on node 10.0.0.11 (aaaa1111bbbb)"
		switch {
		case !allow && (err == nil || !strings.Contains(err.Error(), volume) || !strings.Contains(err.Error(), "--move-replicas")):
			t.Errorf("without --move-replicas: %v", err)
		case allow && (err != nil || !strings.Contains(warn.String(), "WARNING: replica 0 moves to node 10.0.0.14") || !strings.Contains(warn.String(), volume)):
			t.Errorf("with --move-replicas: %v, warned %q", err, warn.String())
		}
	}
}

// Nodes are shown by address and short ID; a hostname only when it tells the nodes apart.
func TestNodeListShowsHostnamesOnlyWhenTheyDiffer(t *testing.T) {
	same := testNodes()
	if line := same.describe(same[1]); !strings.HasPrefix(line, "10.0.0.12        aaaa9999eeee  worker, ready, active") ||
		!strings.HasSuffix(line, "(this engine)") || strings.Contains(line, "node") {
		t.Errorf("node line %q", line)
	}
	named := slices.Clone(same)
	for i := range named {
		named[i].Hostname = fmt.Sprintf("db-%d", i)
	}
	if line := named.describe(named[0]); !strings.Contains(line, "active  db-0") {
		t.Errorf("node line %q does not show its own hostname", line)
	}
}
