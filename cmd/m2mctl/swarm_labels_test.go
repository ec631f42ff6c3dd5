package main

import (
	"strings"
	"testing"

	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

func TestSwarmLabelProblemsCompareTheLabelsWithTheSettings(t *testing.T) {
	nodes := withLabels(testNodes(), map[int]map[string]string{
		0: {stack.NodeLabelReplica: "0", stack.NodeLabelEdge: "true"},
		1: {stack.NodeLabelReplica: "1"},
		3: {stack.NodeLabelReplica: "2"},
	})
	v := settings.Values{settings.TigerBeetleReplicaCount: "3",
		settings.TigerBeetleReplicaAddresses: "10.0.0.11:3000,10.0.0.12:3000,10.0.0.14:3000"}
	if p := swarmLabelProblems(nodes, v); len(p) != 0 {
		t.Errorf("problems with labels that match: %q", p)
	}
	v[settings.TigerBeetleReplicaAddresses] = "10.0.0.11:3000,10.0.0.13:3000,10.0.0.14:3000"
	bad := withLabels(nodes, map[int]map[string]string{0: {stack.NodeLabelReplica: "0"}, 3: {stack.NodeLabelEdge: "true"}, 2: {stack.NodeLabelEdge: "true"}})
	got := strings.Join(swarmLabelProblems(bad, v), "\n")
	for _, want := range []string{
		"replica 1 is labelled on node 10.0.0.12 (aaaa9999eeee), but TIGERBEETLE_REPLICA_ADDRESSES gives it 10.0.0.13:3000",
		"no node is labelled io.m2m.tigerbeetle.replica=2: replica 2 would never start",
		"nodes 10.0.0.13 (cccc3333dddd), 10.0.0.14 (dddd4444eeee) are all labelled io.m2m.edge=true",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems:\n%s\nwant one saying %q", got, want)
		}
	}
}
