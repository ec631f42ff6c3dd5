package deployer

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// Up makes the network, secrets and configs the stack needs, runs each one-shot job (the format of every
// replica, on its node) and waits for it to complete, then creates or updates every other service and waits
// until each has a running task (a task with a health check runs only once healthy). A kept job is not run
// again. It returns the plan it carried out.
func (s *Swarm) Up(ctx context.Context, p *types.Project, opts UpOptions) (*Plan, error) {
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = 5 * time.Minute
	}
	r := opts.Reporter
	if r == nil {
		r = discard{}
	}
	plan, err := s.Plan(ctx, p, opts.Options)
	if err != nil {
		return nil, err
	}
	if err := s.ensureNetworks(ctx, p, r); err != nil {
		return plan, err
	}
	refs, err := s.objects(ctx, p, true)
	if err != nil {
		return plan, err
	}
	have, err := s.services(ctx, p.Name)
	if err != nil {
		return plan, err
	}
	deadline, cancel := context.WithTimeout(ctx, opts.WaitTimeout)
	defer cancel()
	var jobs, rest []string
	for _, step := range plan.Services {
		if d := p.Services[step.Service].Deploy; d != nil && d.Mode == "replicated-job" {
			jobs = append(jobs, step.Service)
		} else {
			rest = append(rest, step.Service)
		}
	}
	for _, group := range [][]string{jobs, rest} {
		for _, name := range group {
			if err := s.apply(ctx, p, name, have, refs, r); err != nil {
				return plan, err
			}
		}
		if err := s.waitServices(deadline, p.Name, group, opts.WaitTimeout, r); err != nil {
			return plan, err
		}
	}
	return plan, nil
}

// apply creates the service, updates it when its spec changed, or leaves it (judge).
func (s *Swarm) apply(ctx context.Context, p *types.Project, name string, have map[string]swarm.Service, refs swarmRefs, r Reporter) error {
	spec, err := serviceSpecFor(p, p.Services[name], refs)
	if err != nil {
		return err
	}
	svc, exists := have[name]
	action := ActionCreate
	if exists {
		if action, _, err = s.judge(ctx, svc, spec); err != nil {
			return err
		}
	}
	switch {
	case action == ActionKeep:
		report(r, Event{Kind: "service", Name: name, Status: StatusExists})
		return nil
	case exists:
		report(r, Event{Kind: "service", Name: name, Status: StatusCreating, Detail: "updating"})
		_, err = s.cli.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{Version: svc.Version, Spec: spec})
	default:
		report(r, Event{Kind: "service", Name: name, Status: StatusCreating})
		_, err = s.cli.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec})
	}
	if err != nil {
		return fmt.Errorf("service %s: %w", name, Explain(err))
	}
	report(r, Event{Kind: "service", Name: name, Status: StatusCreated})
	return nil
}

func (s *Swarm) ensureNetworks(ctx context.Context, p *types.Project, r Reporter) error {
	for key, n := range p.Networks {
		if n.External {
			continue
		}
		name := p.Name + "_" + key
		if _, err := s.cli.NetworkInspect(ctx, name, client.NetworkInspectOptions{}); err == nil {
			continue
		} else if !isNotFound(err) {
			return fmt.Errorf("network %s: %w", name, Explain(err))
		}
		report(r, Event{Kind: "network", Name: name, Status: StatusCreating})
		if _, err := s.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: orDefault(n.Driver, "overlay"), Attachable: n.Attachable,
			Labels: map[string]string{labelStackNamespace: p.Name}, Scope: "swarm"}); err != nil {
			return fmt.Errorf("create network %s: %w", name, Explain(err))
		}
	}
	return nil
}

// waitServices polls the tasks (the events API of a manager reports no task changes) every 500 ms, as Compose
// polls containers, until every named service is done: a job's newest task complete, a service's newest task
// running.
func (s *Swarm) waitServices(ctx context.Context, project string, names []string, timeout time.Duration, r Reporter) error {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	done := map[string]bool{}
	for {
		pending, err := s.pending(ctx, project, names, done, r)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return &WaitTimeoutError{Timeout: timeout, Pending: pending}
			}
			return fmt.Errorf("%w: %w", ErrInterrupted, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

func (s *Swarm) pending(ctx context.Context, project string, names []string, done map[string]bool, r Reporter) ([]string, error) {
	have, err := s.services(ctx, project)
	if err != nil {
		return nil, err
	}
	var pending []string
	for _, name := range names {
		if done[name] {
			continue
		}
		svc := have[name]
		task, err := s.newestTask(ctx, svc.ID)
		if err != nil {
			return nil, err
		}
		job := svc.Spec.Mode.ReplicatedJob != nil
		switch {
		case task != nil && job && task.Status.State == swarm.TaskStateComplete:
			done[name] = true
			report(r, Event{Kind: "service", Name: name, Status: StatusCompleted, Final: true})
		case task != nil && !job && task.Status.State == swarm.TaskStateRunning:
			done[name] = true
			report(r, Event{Kind: "service", Name: name, Status: StatusRunning, Detail: "on " + shortID(task.NodeID), Final: true})
		case task == nil:
			pending = append(pending, name+" has no task yet")
		default:
			why := string(task.Status.State)
			if task.Status.Err != "" {
				why += ": " + task.Status.Err
			}
			pending = append(pending, name+" "+why)
		}
	}
	return pending, nil
}

// newestTask is the most recently created task of the service, or nil.
func (s *Swarm) newestTask(ctx context.Context, serviceID string) (*swarm.Task, error) {
	tasks, err := s.tasksOf(ctx, serviceID)
	if err != nil || len(tasks) == 0 {
		return nil, err
	}
	return &tasks[0], nil
}

// tasksOf lists the service's tasks, newest first.
func (s *Swarm) tasksOf(ctx context.Context, serviceID string) ([]swarm.Task, error) {
	if serviceID == "" {
		return nil, nil
	}
	res, err := s.cli.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", serviceID)})
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", Explain(err))
	}
	sort.Slice(res.Items, func(i, j int) bool { return res.Items[i].Meta.CreatedAt.After(res.Items[j].Meta.CreatedAt) })
	return res.Items, nil
}
