// Package upgrade moves a deployed stack to new images through a deployment target, health-gated in
// dependency order, and back to the images it ran before when a service does not become healthy.
package upgrade

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/m2mnet/m2m/deployer"
)

// Change is one service whose image moves.
type Change struct {
	Service string `json:"service"`
	From    string `json:"from"`
	To      string `json:"to"`
}

// Changes lists, by service name, the services of to whose image differs from the same service in from.
// A service only in to (a profile turned on) is not a change: Up creates it as usual.
func Changes(from, to *types.Project) []Change {
	var out []Change
	for _, name := range slices.Sorted(maps.Keys(to.Services)) {
		old, ok := from.Services[name]
		if ok && old.Image != to.Services[name].Image {
			out = append(out, Change{Service: name, From: old.Image, To: to.Services[name].Image})
		}
	}
	return out
}

// NotCurrentError: what runs is not what the project describes, so there is no known state to roll back to.
type NotCurrentError struct {
	Project string
	Steps   []deployer.ServiceStep // the services Up would change
}

func (e *NotCurrentError) Error() string {
	var parts []string
	for _, s := range e.Steps {
		parts = append(parts, fmt.Sprintf("%s would %s (%s)", s.Service, s.Action, s.Reason))
	}
	return fmt.Sprintf("project %s does not run as described: %s", e.Project, strings.Join(parts, "; "))
}

// CheckCurrent returns a *NotCurrentError unless every service of from exists and is kept as it is by Up:
// the images it runs are then the ones a rollback goes back to.
func CheckCurrent(ctx context.Context, t deployer.Target, from *types.Project, opts deployer.Options) error {
	plan, err := t.Plan(ctx, from, opts)
	if err != nil {
		return err
	}
	var steps []deployer.ServiceStep
	for _, s := range plan.Services {
		if s.Action != deployer.ActionKeep {
			steps = append(steps, s)
		}
	}
	if len(steps) > 0 {
		return &NotCurrentError{Project: from.Name, Steps: steps}
	}
	return nil
}

// Options steer Run.
type Options struct {
	// Up steers both the upgrade and the rollback; its Reporter sees the events of both.
	Up deployer.UpOptions
	// ForwardOnly are services never taken back to their previous image once they became healthy on the new
	// one (a TigerBeetle replica that ran a newer release may have moved its data file forward). Services with
	// the same image change follow them. When such a service fails before it is healthy, it is rolled back.
	ForwardOnly []string
	// Rollback, when set, is called once before the rollback starts, with the upgrade's error.
	Rollback func(cause error)
}

// Result is what Run did.
type Result struct {
	Plan *deployer.Plan // what the upgrade carried out
	// Final is the project that runs now: to after a success, from (with Kept applied) after a rollback.
	Final *types.Project
	// Kept are the forward-only changes a rollback left in place.
	Kept []Change
	// Down is, per recreated service, how long it was not serving: from its stop request to its end state.
	Down map[string]time.Duration
}

// RolledBackError: the upgrade failed (Cause, e.g. a *deployer.ServiceError with the failing health check)
// and the stack was taken back to its previous images; RollbackErr is set when that failed too.
type RolledBackError struct {
	Cause       error
	Kept        []Change
	RollbackErr error
}

func (e *RolledBackError) Error() string {
	if e.RollbackErr != nil {
		return fmt.Sprintf("upgrade failed: %v; rolling back failed too: %v", e.Cause, e.RollbackErr)
	}
	return fmt.Sprintf("upgrade failed and was rolled back: %v", e.Cause)
}

func (e *RolledBackError) Unwrap() error { return e.Cause }

// Run brings to up through t (dependencies first, each gated on its health as Up does). When that fails
// or is interrupted, it brings from back up, except the ForwardOnly services that were healthy on their new
// image, and returns a *RolledBackError. from must be what runs (see CheckCurrent).
func Run(ctx context.Context, t deployer.Target, from, to *types.Project, opts Options) (*Result, error) {
	rec := newRecorder(opts.Up.Reporter)
	up := opts.Up
	up.Reporter = rec
	plan, err := t.Up(ctx, to, up)
	res := &Result{Plan: plan, Final: to, Down: rec.downtimes()}
	if err == nil {
		return res, nil
	}
	if opts.Rollback != nil {
		opts.Rollback(err)
	}
	back, kept := rollbackProject(from, to, rec.healthySet(), opts.ForwardOnly)
	// The rollback runs even when ctx ended (an interrupted upgrade goes back too), bounded by the wait.
	wait := opts.Up.WaitTimeout
	if wait <= 0 {
		wait = 5 * time.Minute
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wait+2*time.Minute)
	defer cancel()
	rb := opts.Up
	rb.Reporter = rec
	_, rbErr := t.Up(rctx, back, rb)
	res.Final, res.Kept, res.Down = back, kept, rec.downtimes()
	return res, &RolledBackError{Cause: err, Kept: kept, RollbackErr: rbErr}
}

// rollbackProject is from, with each forward-only service that became healthy on its new image (and every
// service sharing that image change) kept on the new image.
func rollbackProject(from, to *types.Project, healthy map[string]bool, forwardOnly []string) (*types.Project, []Change) {
	moved := map[Change]bool{}
	for _, c := range Changes(from, to) {
		if slices.Contains(forwardOnly, c.Service) && healthy[c.Service] {
			moved[Change{From: c.From, To: c.To}] = true
		}
	}
	back := *from
	back.Services = types.Services{}
	var kept []Change
	for name, s := range from.Services {
		if n, ok := to.Services[name]; ok && moved[Change{From: s.Image, To: n.Image}] {
			kept = append(kept, Change{Service: name, From: s.Image, To: n.Image})
			s.Image = n.Image
		}
		back.Services[name] = s
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].Service < kept[j].Service })
	return &back, kept
}

// recorder passes events on and notes which services became healthy and how long recreated ones were down.
type recorder struct {
	next    deployer.Reporter
	mu      sync.Mutex
	healthy map[string]bool
	stopped map[string]time.Time
	down    map[string]time.Duration
}

func newRecorder(next deployer.Reporter) *recorder {
	return &recorder{next: next, healthy: map[string]bool{}, stopped: map[string]time.Time{}, down: map[string]time.Duration{}}
}

func (r *recorder) Report(e deployer.Event) {
	if e.Kind == "service" {
		r.mu.Lock()
		switch {
		case e.Status == deployer.StatusStopping:
			if _, ok := r.stopped[e.Name]; !ok {
				r.stopped[e.Name] = e.Time
			}
		case e.Status == deployer.StatusHealthy:
			r.healthy[e.Name] = true
			fallthrough
		case e.Final && !e.Failed:
			if at, ok := r.stopped[e.Name]; ok {
				r.down[e.Name] += e.Time.Sub(at)
				delete(r.stopped, e.Name)
			}
		}
		r.mu.Unlock()
	}
	if r.next != nil {
		r.next.Report(e)
	}
}

func (r *recorder) healthySet() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]bool{}
	for k, v := range r.healthy {
		out[k] = v
	}
	return out
}

func (r *recorder) downtimes() map[string]time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]time.Duration{}
	for k, v := range r.down {
		out[k] = v
	}
	return out
}
