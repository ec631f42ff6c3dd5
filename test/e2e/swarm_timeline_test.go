package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// timeline says, for every service of the stack, when (seconds after start) its service was created, its newest
// task was created, its container created and started, its first health check passed, and its container
// finished (a job), read after the fact from the manager's tasks and each node's containers: where a cold
// deploy spends its time.
func (p *swarmProject) timeline(start time.Time) []string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mgr := p.swarm.Manager().Client
	svcs, err := mgr.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", "com.docker.stack.namespace="+p.name)})
	if err != nil {
		return []string{err.Error()}
	}
	at := func(t time.Time) string {
		if t.IsZero() || t.Year() < 2000 {
			return "    -"
		}
		return fmt.Sprintf("%5.1f", t.Sub(start).Seconds())
	}
	var lines []string
	for _, svc := range svcs.Items {
		name := strings.TrimPrefix(svc.Spec.Name, p.name+"_")
		res, err := mgr.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", svc.ID)})
		if err != nil || len(res.Items) == 0 {
			lines = append(lines, fmt.Sprintf("%-22s service %s  no task", name, at(svc.Meta.CreatedAt)))
			continue
		}
		tasks := res.Items
		slices.SortFunc(tasks, func(a, b swarm.Task) int { return a.Meta.CreatedAt.Compare(b.Meta.CreatedAt) })
		task := tasks[len(tasks)-1]
		line := fmt.Sprintf("%-22s service %s  task %s  %s %s (%d tasks)", name, at(svc.Meta.CreatedAt), at(task.Meta.CreatedAt),
			task.Status.State, at(task.Status.Timestamp), len(tasks))
		node := p.nodeOf(task.NodeID)
		if cs := task.Status.ContainerStatus; node >= 0 && cs != nil && cs.ContainerID != "" {
			c, err := p.swarm.Nodes[node].Client.ContainerInspect(ctx, cs.ContainerID, client.ContainerInspectOptions{})
			if err == nil {
				created, _ := time.Parse(time.RFC3339Nano, c.Container.Created)
				started, _ := time.Parse(time.RFC3339Nano, c.Container.State.StartedAt)
				finished, _ := time.Parse(time.RFC3339Nano, c.Container.State.FinishedAt)
				line += fmt.Sprintf("  container %s  started %s", at(created), at(started))
				if h := c.Container.State.Health; h != nil {
					// The log keeps the last five checks: its first is the first check only while there were no more.
					var healthy time.Time
					for _, r := range h.Log {
						if r.ExitCode == 0 {
							healthy = r.End
							break
						}
					}
					var first time.Time
					if len(h.Log) > 0 {
						first = h.Log[0].End
					}
					line += fmt.Sprintf("  checks from %s, first ok %s", at(first), at(healthy))
				}
				if !finished.IsZero() && finished.Year() > 2000 {
					line += "  finished " + at(finished)
				}
			}
		}
		lines = append(lines, line)
	}
	slices.Sort(lines)
	return lines
}
