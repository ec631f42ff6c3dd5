package e2e

import (
	"context"
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
