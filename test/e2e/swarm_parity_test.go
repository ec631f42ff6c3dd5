package e2e

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/stack/settings"
)

// Switching tools recreates nothing, on a Swarm too: `m2mctl up` on the stack `docker stack deploy` made
// updates no service and replaces no task; `docker stack deploy` on the stack `m2mctl up` made replaces no
// task of a long-running service (it updates every service it is given, as it does its own). And `m2mctl
// status --watch` follows the stack's tasks on a Swarm.
func TestSwarmToolsKeepEachOthersServices(t *testing.T) {
	wallTime(t)
	p := newSwarmProject(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	p.stackDeploy(t)
	versions, tasks := p.serviceVersions(ctx), p.taskIDs(ctx)
	plan := p.swarmCtl(time.Minute, "plan")
	if plan.code != 0 || !strings.Contains(plan.stdout, "keep") || strings.Contains(plan.stdout, "recreate") || strings.Contains(plan.stdout, "update") {
		t.Errorf("m2mctl plan on the stack docker stack deploy made: exit %d, want every service kept:\n%s%s", plan.code, plan.stdout, plan.stderr)
	}
	p.mustSwarmCtl(8*time.Minute, "up", "--pull", "never")
	if after := p.serviceVersions(ctx); !maps.Equal(versions, after) {
		t.Errorf("m2mctl up after docker stack deploy updated services: versions %v → %v\n%s", versions, after, p.specChanges(ctx))
	}
	if after := p.taskIDs(ctx); !maps.EqualFunc(tasks, after, slices.Equal) {
		t.Errorf("m2mctl up after docker stack deploy replaced tasks: %v → %v", tasks, after)
	}

	p.mustSwarmCtl(5*time.Minute, "down")
	p.mustSwarmCtl(8*time.Minute, "up", "--pull", "never")
	tasks = p.taskIDs(ctx)
	p.stackDeploy(t)
	after := p.taskIDs(ctx)
	for svc, ids := range tasks {
		if strings.Contains(svc, "format") {
			continue // docker stack deploy updates every service it deploys, and a job runs again when updated
		}
		if !slices.Equal(ids, after[svc]) {
			t.Errorf("docker stack deploy after m2mctl up replaced the tasks of %s: %v → %v\n%s", svc, ids, after[svc], p.specChanges(ctx))
		}
	}
	// m2mctl up once more: the services docker stack deploy updated (their tasks older than the update, their spec
	// the same) are kept, and up does not wait for a replacement that never comes.
	versions = p.serviceVersions(ctx)
	p.mustSwarmCtl(2*time.Minute, "up", "--pull", "never")
	if again := p.serviceVersions(ctx); !maps.Equal(versions, again) {
		t.Errorf("m2mctl up after docker stack deploy's redeploy updated services: versions %v → %v", versions, again)
	}
	if again := p.taskIDs(ctx); !maps.EqualFunc(after, again, slices.Equal) {
		t.Errorf("m2mctl up after docker stack deploy's redeploy replaced tasks: %v → %v", after, again)
	}

	// status --watch on a Swarm: the connector's container removed under it is seen to end, then its
	// replacement to run.
	events := p.watchSwarm(ctx)
	var id string
	for _, task := range p.tasks(ctx, settings.ServiceConnector) {
		if task.Status.State == swarm.TaskStateRunning {
			id = task.Status.ContainerStatus.ContainerID
		}
	}
	if id == "" {
		t.Fatal("no running connector task")
	}
	if _, err := p.swarm.Manager().Client.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("status --watch ended; connector events %v", seen)
			}
			if e.Service != settings.ServiceConnector {
				continue
			}
			seen = append(seen, e.Event+" "+e.Detail)
			if e.Event == "started" {
				if len(seen) < 2 {
					t.Errorf("status --watch: connector events %v, want its end before its start", seen)
				}
				t.Logf("status --watch: connector events %q", seen)
				return
			}
			if e.Event == "restarted" {
				t.Fatalf("status --watch: connector events %v, want its end seen before a new task runs", seen)
			}
		case <-ctx.Done():
			t.Fatalf("status --watch: connector events %v, no start of its replacement", seen)
		}
	}
}

// watchSwarm runs `m2mctl status --watch -o json` against the manager until the test ends and sends each
// event it prints.
func (p *swarmProject) watchSwarm(ctx context.Context) <-chan deployer.WatchEvent {
	p.t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, env.m2mctl, "status", "--watch", "-o", "json", "-p", p.name, "--env-file", p.envFile)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "DOCKER_HOST="+p.swarm.Manager().Host)
	out, err := cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	events := make(chan deployer.WatchEvent)
	go func() {
		defer close(events)
		dec := json.NewDecoder(out)
		for {
			var raw map[string]any
			if err := dec.Decode(&raw); err != nil {
				return
			}
			if _, ok := raw["event"]; !ok {
				continue // the status report printed first
			}
			b, _ := json.Marshal(raw)
			var e deployer.WatchEvent
			if json.Unmarshal(b, &e) == nil {
				select {
				case events <- e:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return events
}

// taskIDs lists the ids of the tasks of every service of the stack, by service.
func (p *swarmProject) taskIDs(ctx context.Context) map[string][]string {
	p.t.Helper()
	out := map[string][]string{}
	for svc := range p.serviceVersions(ctx) {
		for _, task := range p.tasks(ctx, svc) {
			out[svc] = append(out[svc], task.ID)
		}
		slices.Sort(out[svc])
	}
	return out
}

// specChanges shows, for every service whose spec was updated, its previous and current spec as JSON.
func (p *swarmProject) specChanges(ctx context.Context) string {
	res, err := p.swarm.Manager().Client.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", "com.docker.stack.namespace="+p.name)})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, s := range res.Items {
		if s.PreviousSpec == nil {
			continue
		}
		prev, _ := json.MarshalIndent(s.PreviousSpec, "", " ")
		cur, _ := json.MarshalIndent(s.Spec, "", " ")
		b.WriteString("== " + s.Spec.Name + " previous:\n" + string(prev) + "\n== current:\n" + string(cur) + "\n")
	}
	return b.String()
}
