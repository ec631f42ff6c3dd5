package e2e

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/internal/testenv"
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
	// m2mctl sees the stack docker stack deploy made: every service, each OK.
	r := p.swarmCtl(time.Minute, "status", "-o", "json")
	var rep statusReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || len(rep.Services) != 9 {
		t.Fatalf("m2mctl status on the deployed stack: exit %d, %d services, %v\n%s%s", r.code, len(rep.Services), err, r.stdout, r.stderr)
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
// services healthy; a second up changes nothing; down then up keeps every replica's data file; down --volumes
// removes the manager's volumes and names, node by node, those only their own engines can remove.
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

	// A changed setting: up updates the connector and returns only once its new task runs, not while the
	// task from before the update still does.
	p.set(map[string]string{settings.LogLevel: "debug"})
	p.mustSwarmCtl(8*time.Minute, "up", "--pull", "never")
	var runningEnv [][]string
	for _, task := range p.tasks(ctx, settings.ServiceConnector) {
		if task.Status.State == swarm.TaskStateRunning {
			runningEnv = append(runningEnv, task.Spec.ContainerSpec.Env)
		}
	}
	if len(runningEnv) != 1 || !slices.Contains(runningEnv[0], settings.LogLevel+"=debug") {
		t.Errorf("when up returned after LOG_LEVEL changed, the connector's running tasks had the environments %v, want one with %s=debug",
			runningEnv, settings.LogLevel)
	}

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

	// down --volumes: the manager's own volumes go; those of the other nodes are named, node by node, with the
	// command that removes them there, and m2mctl exits non-zero.
	r := p.swarmCtl(5*time.Minute, "down", "--volumes", "--yes")
	t.Logf("m2mctl down --volumes --yes said:\n%s", lastLines(r.stderr, 6))
	if r.code == 0 {
		t.Errorf("down --volumes on a swarm exited 0, want non-zero: volumes are left on other nodes\n%s", r.stderr)
	}
	for i, n := range p.swarm.Nodes {
		vols := p.nodeVolumes(ctx, i)
		replica := p.name + "_" + stack.ReplicaVolume(i)
		if i == 0 {
			if len(vols) != 0 {
				t.Errorf("down --volumes left volumes on the manager: %v", vols)
			}
			continue
		}
		if !slices.Contains(vols, replica) {
			t.Errorf("node %d: volumes %v, want %s kept (only its own engine can remove it)", i, vols, replica)
		}
		if want := "node " + n.IP; !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "docker volume rm "+replica) {
			t.Errorf("down --volumes does not tell how to remove %s on %s:\n%s", replica, want, r.stderr)
		}
	}
}

// nodeVolumes lists the stack's volumes on node i, through its own engine.
func (p *swarmProject) nodeVolumes(ctx context.Context, i int) []string {
	p.t.Helper()
	res, err := p.swarm.Nodes[i].Client.VolumeList(ctx, client.VolumeListOptions{})
	if err != nil {
		p.t.Fatal(err)
	}
	var out []string
	for _, v := range res.Items {
		if strings.HasPrefix(v.Name, p.name+"_") {
			out = append(out, v.Name)
		}
	}
	return out
}

// Losing a node: status says which replica is down and on which node, and exits non-zero; the other services
// keep their tasks (the connector stayed healthy: Swarm replaces a task whose health check fails), and with a
// real TigerBeetle a payment posts while the replica is down; with the node back, status is healthy again and
// the replica's data file is the same.
func TestSwarmNodeLossIsReportedWithItsNode(t *testing.T) {
	wallTime(t)
	p := newSwarmProject(t, 3)
	// With a real TigerBeetle the connector keeps its books in the three replicas, and a payment must post
	// while one of them is lost; the stand-in speaks no TigerBeetle protocol (LEDGER=memory).
	var payees swarmPayees
	if env.images.RealTigerBeetle {
		payees = p.withPayees()
	}
	p.mustSwarmCtl(8*time.Minute, "up", "--pull", "never")
	sum := p.replicaSum(2)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	running := func() map[string]string {
		out := map[string]string{}
		for _, svc := range []string{settings.ServiceConnector, settings.ServicePrometheus, settings.ServiceGrafana, stack.ReplicaService(0), stack.ReplicaService(1)} {
			for _, task := range p.tasks(ctx, svc) {
				if task.Status.State == swarm.TaskStateRunning {
					out[svc] = task.ID
				}
			}
		}
		return out
	}
	before := running()
	lost := p.swarm.Nodes[2]
	if err := lost.StopEngine(); err != nil {
		t.Fatal(err)
	}
	// The manager marks the node down when its heartbeats stop; status is polled until it says so.
	var row serviceRow
	testenv.WaitFor(t, 3*time.Minute, "status to report tigerbeetle-2's node down", func() bool {
		rep, code := p.swarmStatus()
		row = rep.service(t, stack.ReplicaService(2))
		return code != 0 && row.State == "node-down"
	})
	if !strings.Contains(row.Health, lost.IP) {
		t.Errorf("tigerbeetle-2 row %+v does not name node %s", row, lost.IP)
	}
	text := p.swarmCtl(time.Minute, "status")
	if text.code == 0 || !strings.Contains(text.stdout, lost.IP) {
		t.Errorf("status (text) exit %d, does not name the lost node %s:\n%s", text.code, lost.IP, text.stdout)
	}
	if env.images.RealTigerBeetle {
		p.pay(t, payees, "one of three replicas down")
	} else {
		t.Logf("%s is not set: the stand-in TigerBeetle cannot show a payment posting while one of three replicas is down; skipped", envTigerBeetleImage)
	}
	if after := running(); !maps.Equal(before, after) {
		t.Errorf("other services' tasks changed while a node was lost: %v → %v", before, after)
	}
	if err := lost.StartEngine(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 4*time.Minute, "status healthy with the node back", func() bool { _, code := p.swarmStatus(); return code == 0 })
	if got := p.replicaSum(2); got != sum {
		t.Errorf("replica 2's data file changed across the node's loss: %s → %s", sum, got)
	}
}
