package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

// The deployment guide's path: `m2mctl init --target swarm` chooses the nodes and labels them, and `m2mctl up`
// deploys there. The project starts labelled by hand (replica i on node i); the wizard, with --update, moves
// every replica one node on and the edge to node 2 — the stack then runs exactly there, formatted there.
func TestSwarmInitPlacesWhatUpDeploys(t *testing.T) {
	wallTime(t)
	p := newSwarmProject(t, 3)
	order := []int{1, 2, 0} // replica i → node order[i]
	const edgeNode = 2
	refs := make([]string, len(order))
	addrs := make([]string, len(order))
	for i, n := range order {
		refs[i] = fmt.Sprintf("%d=%s", i, p.swarm.Nodes[n].ID[:10])
		addrs[i] = p.swarm.Nodes[n].IP + ":3000"
	}
	r := p.mustSwarmCtl(time.Minute, "init", "--update", "--yes", "--target", "swarm", "--replica-node", strings.Join(refs, ","),
		"--edge-node", p.swarm.Nodes[edgeNode].IP, "--move-replicas")
	if !strings.Contains(r.stdout, "Labelled node") {
		t.Errorf("init labelled nothing:\n%s", r.stdout)
	}
	values, err := settings.Load(p.envFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := values.String(settings.TigerBeetleReplicaAddresses); got != strings.Join(addrs, ",") {
		t.Errorf("%s=%s, want %s", settings.TigerBeetleReplicaAddresses, got, strings.Join(addrs, ","))
	}

	p.mustSwarmCtl(8*time.Minute, "up", "--pull", "never")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i, want := range order {
		for _, service := range []string{stack.ReplicaService(i), stack.ReplicaFormatService(i)} {
			tasks := p.tasks(ctx, service)
			if len(tasks) == 0 {
				t.Errorf("%s has no task", service)
			}
			for _, task := range tasks {
				if got := p.nodeOf(task.NodeID); got != want {
					t.Errorf("%s: a task on node %d (%s), want node %d", service, got, task.Status.State, want)
				}
			}
		}
	}
	for _, service := range []string{settings.ServiceConnector, settings.ServicePrometheus, settings.ServiceGrafana} {
		running := false
		for _, task := range p.tasks(ctx, service) {
			running = running || (task.Status.State == swarm.TaskStateRunning && p.nodeOf(task.NodeID) == edgeNode)
		}
		if !running {
			t.Errorf("%s does not run on the edge node %d:\n%s", service, edgeNode, p.taskReport())
		}
	}
}
