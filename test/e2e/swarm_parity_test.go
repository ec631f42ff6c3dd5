package e2e

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// Switching tools recreates nothing, on a Swarm too: `m2mctl up` on the stack `docker stack deploy` made
// updates no service and replaces no task; `docker stack deploy` on the stack `m2mctl up` made replaces no
// task of a long-running service (it updates every service it is given, as it does its own).
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
