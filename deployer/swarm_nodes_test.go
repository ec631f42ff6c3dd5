package deployer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/internal/testenv"
)

// On a real two-node swarm: the manager lists both nodes by address, itself marked; SetNodeLabels sets and
// removes only the labels it is given, and sends nothing when the node has them already; a worker is no manager.
func TestSwarmNodesAreListedAndLabelled(t *testing.T) {
	s := testenv.NewSwarm(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Setenv("DOCKER_HOST", s.Manager().Host)
	mgr, err := deployer.OpenManager(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	if err := s.LabelNode(ctx, 1, map[string]string{"zone": "b", "io.m2m.edge": "true"}); err != nil {
		t.Fatal(err)
	}

	nodes, err := mgr.SwarmNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].ID != s.Nodes[0].ID || nodes[1].ID != s.Nodes[1].ID {
		t.Fatalf("nodes %+v, want the two test nodes in address order", nodes)
	}
	if n := nodes[0]; n.Addr != s.Nodes[0].IP || !n.Self || !n.Leader || n.Role != "manager" || !n.Schedulable() {
		t.Errorf("the manager is listed as %+v", n)
	}
	if n := nodes[1]; n.Addr != s.Nodes[1].IP || n.Self || n.Role != "worker" || n.Labels["zone"] != "b" {
		t.Errorf("the worker is listed as %+v", n)
	}

	worker := s.Nodes[1].ID
	if err := mgr.SetNodeLabels(ctx, worker, map[string]string{"io.m2m.tigerbeetle.replica": "1"}, []string{"io.m2m.edge"}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Manager().Client.NodeInspect(ctx, worker, client.NodeInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	labels := res.Node.Spec.Labels
	if len(labels) != 2 || labels["zone"] != "b" || labels["io.m2m.tigerbeetle.replica"] != "1" {
		t.Errorf("labels after the update: %v; want zone=b kept, the replica set, the edge removed", labels)
	}
	version := res.Node.Version.Index
	if err := mgr.SetNodeLabels(ctx, worker, map[string]string{"io.m2m.tigerbeetle.replica": "1"}, []string{"io.m2m.edge"}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Manager().Client.NodeInspect(ctx, worker, client.NodeInspectOptions{}); err != nil || res.Node.Version.Index != version {
		t.Errorf("an update that changes nothing moved the node's version from %d (%v)", version, err)
	}

	var nle *deployer.NodeLabelError
	if err := mgr.SetNodeLabels(ctx, "nosuchnode", map[string]string{"a": "b"}, nil); !errors.As(err, &nle) || nle.Node != "nosuchnode" {
		t.Errorf("labelling a node that does not exist: %v, want a *NodeLabelError naming it", err)
	}

	t.Setenv("DOCKER_HOST", s.Nodes[1].Host)
	var nm *deployer.NotManagerError
	if _, err := deployer.OpenManager(ctx); !errors.As(err, &nm) || nm.State != "active" {
		t.Errorf("OpenManager on a worker: %v, want a *NotManagerError in state active", err)
	}
}
