package deployer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"
)

// UpOptions steer Up.
type UpOptions struct {
	Options
	// WaitTimeout bounds the wait for every service to be healthy, running or completed; 0 means 5 minutes.
	WaitTimeout time.Duration
	Reporter    Reporter
}

// ErrInterrupted is returned (wrapped) when the context ends while Up works: what was started keeps running.
var ErrInterrupted = errors.New("interrupted")

// Up brings project to its described state: networks and volumes, images, then every service in dependency
// order, each started once its dependencies' conditions hold, and waits until all are healthy (or running,
// or completed for one-shots). It returns the plan it carried out.
func (d *Deployer) Up(ctx context.Context, project *types.Project, opts UpOptions) (*Plan, error) {
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = 5 * time.Minute
	}
	r := opts.Reporter
	if r == nil {
		r = discard{}
	}
	trackCtx, stopTracking := context.WithCancel(ctx)
	defer stopTracking()
	t := d.track(trackCtx, project.Name)

	plan, err := d.Plan(ctx, project, opts.Options)
	if err != nil {
		return nil, err
	}
	if err := d.ensureResources(ctx, project, plan, r); err != nil {
		return plan, interrupted(ctx, err)
	}
	if err := d.ensureImages(ctx, plan, opts.Options, r); err != nil {
		return plan, interrupted(ctx, err)
	}
	if needsReplan(plan) {
		// A pull or build may have changed an image that an existing container was made from.
		if plan, err = d.Plan(ctx, project, opts.Options); err != nil {
			return nil, err
		}
	}
	if err := d.handleOrphans(ctx, plan, opts.RemoveOrphans, r); err != nil {
		return plan, interrupted(ctx, err)
	}

	waitCtx, cancel := context.WithTimeout(ctx, opts.WaitTimeout)
	defer cancel()
	g, gctx := errgroup.WithContext(waitCtx)
	for _, step := range plan.Services {
		s := project.Services[step.Service]
		g.Go(func() error {
			err := d.runService(gctx, project, s, step, t, r)
			switch {
			case err == nil:
			case gctx.Err() != nil && errors.Is(err, gctx.Err()):
				// Stopped waiting because of an interrupt, the timeout or another service's failure.
				report(r, Event{Kind: "service", Name: s.Name, Status: StatusStopped, Detail: "stopped waiting", Final: true})
			default:
				t.markFailed(s.Name, err)
				report(r, Event{Kind: "service", Name: s.Name, Status: StatusFailed, Detail: firstLine(err.Error()), Final: true, Failed: true})
			}
			return err
		})
	}
	err = g.Wait()
	switch {
	case err == nil:
		return plan, nil
	case ctx.Err() != nil:
		return plan, interrupted(ctx, err)
	case waitCtx.Err() != nil && errors.Is(err, context.DeadlineExceeded):
		return plan, &WaitTimeoutError{Timeout: opts.WaitTimeout, Pending: d.pending(project, t)}
	}
	return plan, err
}

func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
	}
	return err
}

func needsReplan(p *Plan) bool {
	for _, r := range p.Resources {
		if r.Kind == "image" && (r.Action == "pull" || r.Action == "build") {
			return true
		}
	}
	return false
}

func (d *Deployer) pending(project *types.Project, t *tracker) []string {
	var out []string
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, name := range sortedKeys(project.Services) {
		g := endGoal(project, project.Services[name])
		if ok, _ := t.check(name, g); !ok {
			out = append(out, fmt.Sprintf("%s not yet %s", name, goalWords[g]))
		}
	}
	return out
}

var goalWords = map[goal]string{goalStarted: "started", goalHealthy: "healthy", goalCompleted: "completed", goalRunning: "running"}

// endGoal is the state up waits for: completed for a one-shot that another service waits on, healthy when
// there is a health check, running otherwise.
func endGoal(p *types.Project, s types.ServiceConfig) goal {
	for _, other := range p.Services {
		if dep, ok := other.DependsOn[s.Name]; ok && dep.Condition == types.ServiceConditionCompletedSuccessfully {
			return goalCompleted
		}
	}
	if s.HealthCheck != nil && !s.HealthCheck.Disable && len(s.HealthCheck.Test) > 0 && s.HealthCheck.Test[0] != "NONE" {
		return goalHealthy
	}
	return goalRunning
}

// runService makes s's container (creation does not wait for anything), waits for its dependencies,
// starts it and waits for its end state.
func (d *Deployer) runService(ctx context.Context, p *types.Project, s types.ServiceConfig, step ServiceStep, t *tracker, r Reporter) error {
	ev := func(status, detail string, final bool) {
		report(r, Event{Kind: "service", Name: s.Name, Status: status, Detail: detail, Final: final})
	}
	c := step.existing
	switch step.Action {
	case ActionRecreate:
		mctx, cancel := mutation(ctx)
		err := d.removeContainer(mctx, step.existing, stopTimeout(s), r)
		cancel()
		if err != nil {
			return err
		}
		fallthrough
	case ActionCreate:
		mctx, cancel := mutation(ctx)
		var err error
		c, err = d.createContainer(mctx, p, s, step, r)
		cancel()
		if err != nil {
			return err
		}
	}
	if err := d.waitDependencies(ctx, p, s, t, ev); err != nil {
		return err
	}
	mctx, cancel := mutation(ctx)
	defer cancel()
	if step.Action == ActionKeep {
		t.register(mctx, s.Name, c)
		if _, ok := finished(c); ok {
			t.markDone(s.Name)
			ev(StatusSkipped, step.Reason, true)
			return nil
		}
	} else {
		// A one-shot made or started now may still have nothing to do: look before running it.
		var err error
		if c.Done, err = d.lookDone(mctx, c); err != nil {
			return err
		}
		if why, ok := finished(c); ok {
			t.register(mctx, s.Name, c)
			t.markDone(s.Name)
			ev(StatusSkipped, why, true)
			return nil
		}
		t.registerStarting(s.Name, c.ID)
		ev(StatusStarting, "", false)
		if _, err := d.cli.ContainerStart(mctx, c.ID, client.ContainerStartOptions{}); err != nil {
			return d.startError(p, s, err)
		}
		ev(StatusStarted, "", false)
	}
	if waitedOnHealthy(p, s.Name) {
		pctx, stopProbe := context.WithCancel(ctx)
		defer stopProbe()
		go d.probeHealth(pctx, s.Name, c.ID, t)
	}
	// The end state is the engine's own verdict, even where dependents went ahead on the deployer's probe:
	// `m2mctl status` and `docker compose ps` right after up then say the same.
	g := endGoal(p, s)
	if err := t.wait(ctx, s.Name, g); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return d.failure(context.WithoutCancel(ctx), s.Name, t.containerID(s.Name), err)
	}
	switch g {
	case goalCompleted:
		ev(StatusCompleted, "", true)
	case goalHealthy:
		ev(StatusHealthy, "", true)
	default:
		ev(StatusRunning, "", true)
	}
	return nil
}

// mutation is the context for one change to the engine: it finishes even when ctx ends, so an interrupt
// never leaves a half-made container, but it is bounded.
func mutation(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
}

// waitDependencies blocks until every dependency of s in the project meets its condition.
func (d *Deployer) waitDependencies(ctx context.Context, p *types.Project, s types.ServiceConfig, t *tracker, ev func(string, string, bool)) error {
	for _, dep := range sortedKeys(s.DependsOn) {
		if _, ok := p.Services[dep]; !ok {
			continue
		}
		cond := s.DependsOn[dep].Condition
		if cond == "" {
			cond = types.ServiceConditionStarted
		}
		ev(StatusWaiting, fmt.Sprintf("for %s (%s)", dep, cond), false)
		g := goal(cond)
		if g == goalHealthy {
			g = goalReady
		}
		if err := t.wait(ctx, dep, g); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &DependencyError{Service: s.Name, Dependency: dep, Err: err}
		}
	}
	return nil
}

func stopTimeout(s types.ServiceConfig) *int {
	if s.StopGracePeriod == nil {
		return nil
	}
	secs := int(time.Duration(*s.StopGracePeriod).Seconds())
	return &secs
}

func (d *Deployer) createContainer(ctx context.Context, p *types.Project, s types.ServiceConfig, step ServiceStep, r Reporter) (Container, error) {
	report(r, Event{Kind: "service", Name: s.Name, Status: StatusCreating})
	imageID := ""
	if img, err := d.cli.ImageInspect(ctx, s.Image); err == nil {
		imageID = img.ID
	}
	spec, err := specFor(p, s, step.Hash, imageID)
	if err == nil && step.filesHash != "" {
		spec.create.Config.Labels[LabelFilesHash] = step.filesHash
	}
	if err != nil {
		return Container{}, err
	}
	res, err := d.cli.ContainerCreate(ctx, spec.create)
	if err != nil {
		return Container{}, fmt.Errorf("create container for service %s: %w", s.Name, Explain(err))
	}
	for name, ep := range spec.laterNets {
		if _, err := d.cli.NetworkConnect(ctx, name, client.NetworkConnectOptions{Container: res.ID, EndpointConfig: ep}); err != nil {
			return Container{}, fmt.Errorf("connect service %s to network %s: %w", s.Name, name, Explain(err))
		}
	}
	for _, f := range spec.inline {
		if err := d.copyFile(ctx, res.ID, f); err != nil {
			return Container{}, fmt.Errorf("service %s: write %s: %w", s.Name, f.target, Explain(err))
		}
	}
	report(r, Event{Kind: "service", Name: s.Name, Status: StatusCreated})
	return d.inspect(ctx, res.ID)
}

// copyFile writes an inline config or secret into a created container, as Compose does for content: configs.
func (d *Deployer) copyFile(ctx context.Context, id string, f inlineFile) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: path.Base(f.target), Mode: f.mode, Size: int64(len(f.content)), ModTime: time.Now()})
	tw.Write(f.content)
	tw.Close()
	_, err := d.cli.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: path.Dir(f.target), Content: &buf})
	return err
}

func (d *Deployer) removeContainer(ctx context.Context, c Container, timeout *int, r Reporter) error {
	report(r, Event{Kind: "service", Name: c.Service, Status: StatusStopping, Detail: c.Name})
	if _, err := d.cli.ContainerStop(ctx, c.ID, client.ContainerStopOptions{Timeout: timeout}); err != nil && !isNotFound(err) {
		return fmt.Errorf("stop container %s: %w", c.Name, Explain(err))
	}
	report(r, Event{Kind: "service", Name: c.Service, Status: StatusRemoving, Detail: c.Name})
	if _, err := d.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove container %s: %w", c.Name, Explain(err))
	}
	return nil
}
