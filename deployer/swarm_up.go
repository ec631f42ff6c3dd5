package deployer

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"
)

// Up makes the network, secrets and configs the stack needs, then starts every service as soon as what it
// needs is done (prerequisites): a service that mounts a volume a one-shot job also mounts waits until that job
// completed (replica i waits for its own format job, not for every job), one that depends_on another waits until
// that one completed (a job) or runs (a service; a task with a health check runs only once healthy), and the
// rest start at once, in parallel. It returns when every job completed and every service runs. A kept job is not
// run again. It returns the plan it carried out.
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
	var names []string
	for _, step := range plan.Services {
		names = append(names, step.Service)
	}
	u := &swarmUp{s: s, p: p, have: have, refs: refs, r: r, after: prerequisites(p), started: map[string]bool{}, done: map[string]bool{}}
	return plan, u.run(deadline, names, opts.WaitTimeout)
}

// swarmUp is one run of Up: which services it started and which are done.
type swarmUp struct {
	s     *Swarm
	p     *types.Project
	have  map[string]swarm.Service
	refs  swarmRefs
	r     Reporter
	after map[string][]string
	// started: applied (created, updated or kept); done: a job's newest task complete, a service's running.
	started, done map[string]bool
}

// run starts what is ready, observes the tasks every 500 ms (the events API of a manager reports no task
// changes), as Compose polls containers, and starts what became ready, until every service is done.
func (u *swarmUp) run(ctx context.Context, names []string, timeout time.Duration) error {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := u.startReady(ctx, names); err != nil {
			return err
		}
		before := len(u.done)
		waiting, err := u.observe(ctx, names)
		if err != nil {
			return err
		}
		if len(waiting) == 0 {
			return nil
		}
		if len(u.done) > before {
			continue // something finished: start what waited for it now, not a tick later
		}
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return &WaitTimeoutError{Timeout: timeout, Pending: waiting}
			}
			return fmt.Errorf("%w: %w", ErrInterrupted, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// startReady applies, in parallel, every service not yet started whose prerequisites are all done.
func (u *swarmUp) startReady(ctx context.Context, names []string) error {
	var ready []string
	for _, name := range names {
		if !u.started[name] && u.unmet(name) == nil {
			ready = append(ready, name)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, name := range ready {
		g.Go(func() error { return u.s.apply(gctx, u.p, name, u.have, u.refs, u.r) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, name := range ready {
		u.started[name] = true
	}
	return nil
}

// unmet lists the prerequisites of name that are not done yet.
func (u *swarmUp) unmet(name string) []string {
	var out []string
	for _, dep := range u.after[name] {
		if !u.done[dep] {
			out = append(out, dep)
		}
	}
	return out
}

// observe marks done every started service that is, and says why each other one is not.
func (u *swarmUp) observe(ctx context.Context, names []string) ([]string, error) {
	var started []string
	for _, name := range names {
		if u.started[name] && !u.done[name] {
			started = append(started, name)
		}
	}
	waiting, err := u.s.pending(ctx, u.p.Name, started, u.done, u.r)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if !u.started[name] {
			waiting = append(waiting, name+" waits for "+strings.Join(u.unmet(name), ", "))
		}
	}
	return waiting, nil
}

// prerequisites says, for every service of p, what must be done before Up starts it: each one-shot job that
// mounts a named volume the service mounts (the job prepares the volume: a replica's format writes its data
// file), and each service it depends_on that p has. A Swarm stack file declares no depends_on (docker stack deploy
// ignores it), so there the volumes alone order the start. Names are sorted.
func prerequisites(p *types.Project) map[string][]string {
	jobsOf := map[string][]string{} // volume → the jobs that mount it
	for name, svc := range p.Services {
		if isJob(svc) {
			for _, v := range svc.Volumes {
				if v.Type == types.VolumeTypeVolume && v.Source != "" {
					jobsOf[v.Source] = append(jobsOf[v.Source], name)
				}
			}
		}
	}
	out := map[string][]string{}
	for name, svc := range p.Services {
		var deps []string
		if !isJob(svc) {
			for _, v := range svc.Volumes {
				if v.Type == types.VolumeTypeVolume {
					deps = append(deps, jobsOf[v.Source]...)
				}
			}
		}
		for dep := range svc.DependsOn {
			if _, ok := p.Services[dep]; ok {
				deps = append(deps, dep)
			}
		}
		slices.Sort(deps)
		out[name] = slices.Compact(deps)
	}
	return out
}

func isJob(s types.ServiceConfig) bool { return s.Deploy != nil && s.Deploy.Mode == "replicated-job" }

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

// pending marks done each of names whose newest task is complete (a job) or running (a service), reports it,
// and says why each other one is not. It lists the services and their tasks once.
func (s *Swarm) pending(ctx context.Context, project string, names []string, done map[string]bool, r Reporter) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	have, err := s.services(ctx, project)
	if err != nil {
		return nil, err
	}
	newest, err := s.newestTasks(ctx, have, names)
	if err != nil {
		return nil, err
	}
	var pending []string
	for _, name := range names {
		if done[name] {
			continue
		}
		svc := have[name]
		task, ok := newest[svc.ID]
		job := svc.Spec.Mode.ReplicatedJob != nil
		switch {
		case ok && job && !thisRun(svc, task):
			pending = append(pending, name+" has no task of this run yet")
		case ok && job && task.Status.State == swarm.TaskStateComplete:
			done[name] = true
			report(r, Event{Kind: "service", Name: name, Status: StatusCompleted, Final: true})
		case ok && !job && outdated(svc, task):
			pending = append(pending, name+" still runs its task from before the update")
		case ok && !job && task.Status.State == swarm.TaskStateRunning:
			done[name] = true
			report(r, Event{Kind: "service", Name: name, Status: StatusRunning, Detail: "on " + shortID(task.NodeID), Final: true})
		case !ok:
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

// thisRun reports whether the job's task belongs to its latest run: an updated job runs again, and until its new
// task exists the newest one is the previous run's, complete but not what the update asked for.
func thisRun(job swarm.Service, task swarm.Task) bool {
	return job.JobStatus == nil || task.JobIteration == nil || task.JobIteration.Index == job.JobStatus.JobIteration.Index
}

// newestTasks lists, in one call, the tasks of the named services and returns the most recently created of
// each, by service id.
func (s *Swarm) newestTasks(ctx context.Context, have map[string]swarm.Service, names []string) (map[string]swarm.Task, error) {
	f := make(client.Filters)
	for _, name := range names {
		if id := have[name].ID; id != "" {
			f = f.Add("service", id)
		}
	}
	out := map[string]swarm.Task{}
	if len(f) == 0 {
		return out, nil
	}
	res, err := s.cli.TaskList(ctx, client.TaskListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", Explain(err))
	}
	for _, task := range res.Items {
		if have, ok := out[task.ServiceID]; !ok || task.Meta.CreatedAt.After(have.Meta.CreatedAt) {
			out[task.ServiceID] = task
		}
	}
	return out, nil
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
