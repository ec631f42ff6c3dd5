package e2e

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

// The stack file of `m2mctl config --target swarm`, deployed with plain `docker stack deploy` on a three-node
// swarm: each replica formatted once and running on its own labelled node, the connector healthy on the edge.
func TestSwarmStackFileDeploysWithDockerStackDeploy(t *testing.T) {
	wallTime(t)
	p := newSwarmProject(t, 3)
	p.stackDeploy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range 3 {
		var running []swarm.Task
		for _, task := range p.tasks(ctx, stack.ReplicaService(i)) {
			if task.Status.State == swarm.TaskStateRunning {
				running = append(running, task)
			}
		}
		if len(running) != 1 || p.nodeOf(running[0].NodeID) != i {
			t.Errorf("replica %d: running tasks %v, want one on node %d", i, taskNodes(p, running), i)
		}
		formats := p.tasks(ctx, stack.ReplicaFormatService(i))
		if len(formats) != 1 || formats[0].Status.State != swarm.TaskStateComplete || p.nodeOf(formats[0].NodeID) != i {
			t.Errorf("format of replica %d: tasks %v in states %v, want one complete on node %d", i, taskNodes(p, formats), taskStates(formats), i)
		}
	}
	edge := p.swarm.Manager().Client
	for _, service := range []string{settings.ServiceConnector, settings.ServicePrometheus, settings.ServiceGrafana} {
		tasks := p.tasks(ctx, service)
		var id string
		for _, task := range tasks {
			if task.Status.State == swarm.TaskStateRunning && p.nodeOf(task.NodeID) == 0 {
				id = task.Status.ContainerStatus.ContainerID
			}
		}
		if id == "" {
			t.Errorf("%s: no running task on the edge node (states %v)", service, taskStates(tasks))
			continue
		}
		c, err := edge.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if h := c.Container.State.Health; h == nil || h.Status != "healthy" {
			t.Errorf("%s on the edge node: health %+v, want healthy", service, h)
		}
	}
}

func taskNodes(p *swarmProject, tasks []swarm.Task) []int {
	var out []int
	for _, task := range tasks {
		out = append(out, p.nodeOf(task.NodeID))
	}
	return out
}

func taskStates(tasks []swarm.Task) []swarm.TaskState {
	var out []swarm.TaskState
	for _, task := range tasks {
		out = append(out, task.Status.State)
	}
	return out
}

// m2mctl up on a three-node swarm: every replica formatted once on its own node and running there, the edge
// services healthy; a second up changes nothing; down then up keeps every replica's data file.
func TestSwarmUpPinsReplicasAndKeepsTheirData(t *testing.T) {
	wallTime(t)
	p := newSwarmProject(t, 3)
	p.mustSwarmCtl(8*time.Minute, "up", "--pull", "never")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p.checkPlacement(ctx, 3)
	sums := make([]string, 3)
	for i := range sums {
		if sums[i] = p.replicaSum(i); sums[i] == "" {
			t.Fatalf("replica %d has no data file on node %d", i, i)
		}
	}
	if st := p.swarmCtl(time.Minute, "status", "-o", "json"); st.code != 0 {
		t.Fatalf("status after up: exit %d\n%s%s", st.code, st.stdout, st.stderr)
	}

	before := p.serviceVersions(ctx)
	p.mustSwarmCtl(8*time.Minute, "up", "--pull", "never")
	if after := p.serviceVersions(ctx); !maps.Equal(before, after) {
		t.Errorf("a second up changed services: versions %v → %v", before, after)
	}
	p.checkPlacement(ctx, 3)

	p.mustSwarmCtl(5*time.Minute, "down")
	if left := p.serviceVersions(ctx); len(left) != 0 {
		t.Fatalf("services left after down: %v", left)
	}
	p.mustSwarmCtl(8*time.Minute, "up", "--pull", "never")
	for i, want := range sums {
		if got := p.replicaSum(i); got != want {
			t.Errorf("replica %d's data file changed across down and up: %s → %s", i, want, got)
		}
	}
}
