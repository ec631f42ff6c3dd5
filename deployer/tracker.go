package deployer

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// tracker follows the project's containers through the events API. An event is a wake-up: the state is
// then read by inspect, except die and oom, which are remembered from the event itself because a restart
// policy may have started the container again before the inspect.
type tracker struct {
	d       *Deployer
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	svc     map[string]*svcState
	byID    map[string]*svcState
	err     error // the event stream failed
}

type svcState struct {
	id       string
	state    string
	health   string
	exitCode int
	died     bool // a die event since registration
	oom      bool
	done     bool // satisfied without running (done-if-exists) or kept as completed
	probed   bool // the deployer's own run of its health test passed (see probe.go)
	failed   error
	events   int // events applied; a registration's inspect yields to any newer event
}

// track subscribes to the project's container events from now on; it stops when ctx ends.
func (d *Deployer) track(ctx context.Context, project string) *tracker {
	t := &tracker{d: d, changed: make(chan struct{}), svc: map[string]*svcState{}, byID: map[string]*svcState{}}
	now := time.Now()
	res := d.cli.Events(ctx, client.EventsListOptions{
		Since:   fmt.Sprintf("%d.%09d", now.Unix(), now.Nanosecond()),
		Filters: projectFilter(project).Add("type", "container"),
	})
	go func() {
		for {
			select {
			case m := <-res.Messages:
				t.handle(ctx, m)
			case err := <-res.Err:
				if ctx.Err() == nil && err != nil {
					t.mu.Lock()
					t.err = fmt.Errorf("docker events stream ended: %w", Explain(err))
					t.broadcast()
					t.mu.Unlock()
				}
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return t
}

func (t *tracker) broadcast() {
	close(t.changed)
	t.changed = make(chan struct{})
}

func (t *tracker) handle(ctx context.Context, m events.Message) {
	t.mu.Lock()
	st := t.byID[m.Actor.ID]
	t.mu.Unlock()
	if st == nil {
		return
	}
	action := string(m.Action)
	switch {
	case action == string(events.ActionDie):
		code, _ := strconv.Atoi(m.Actor.Attributes["exitCode"])
		t.update(st, func(s *svcState) { s.events++; s.died, s.exitCode, s.state = true, code, stateExited })
		return
	case action == string(events.ActionOOM):
		t.update(st, func(s *svcState) { s.oom = true })
		return
	case strings.HasPrefix(action, "health_status"), action == string(events.ActionStart), action == string(events.ActionRestart):
	default:
		return
	}
	c, err := t.d.inspect(ctx, m.Actor.ID)
	if err != nil {
		return
	}
	t.update(st, func(s *svcState) {
		s.events++
		s.state, s.health = c.State, c.Health
		if c.State == stateExited {
			s.exitCode = c.ExitCode
		}
	})
}

func (t *tracker) update(st *svcState, fn func(*svcState)) {
	t.mu.Lock()
	fn(st)
	t.broadcast()
	t.mu.Unlock()
}

// register makes c the container followed for service. Events for it count from now on; what changed
// before (between observing and registering) is caught by inspecting it once more.
func (t *tracker) register(ctx context.Context, service string, c Container) {
	t.mu.Lock()
	st := &svcState{id: c.ID, state: c.State, health: c.Health, exitCode: c.ExitCode}
	t.svc[service] = st
	t.byID[c.ID] = st
	t.broadcast()
	t.mu.Unlock()
	if fresh, err := t.d.inspect(ctx, c.ID); err == nil {
		t.update(st, func(s *svcState) {
			if s.events > 0 {
				return
			}
			s.state, s.health = fresh.State, fresh.Health
			if fresh.State == stateExited {
				s.exitCode = fresh.ExitCode
			}
		})
	}
}

// registerStarting records a container that is about to be started. Whatever it did before — the exit code
// of a run that was killed half-way — is not this run's outcome, so it starts as created and only events
// from now on move it.
func (t *tracker) registerStarting(service, id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := &svcState{id: id, state: stateCreated}
	t.svc[service] = st
	t.byID[id] = st
	t.broadcast()
}

func (t *tracker) markDone(service string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.svc[service]
	if st == nil {
		st = &svcState{}
		t.svc[service] = st
	}
	st.done = true
	t.broadcast()
}

func (t *tracker) markFailed(service string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.svc[service]
	if st == nil {
		st = &svcState{}
		t.svc[service] = st
	}
	st.failed = err
	t.broadcast()
}

// goal is a state a service must reach: a dependency condition, or the end state of `up`.
type goal string

const (
	goalStarted   goal = types.ServiceConditionStarted
	goalHealthy   goal = types.ServiceConditionHealthy
	goalCompleted goal = types.ServiceConditionCompletedSuccessfully
	goalRunning   goal = "running" // up's end state for a service with no health check
	// goalReady is service_healthy as a dependent waits for it: the engine says healthy, or the deployer's
	// own run of the same health test passed before the engine's first interval was up.
	goalReady goal = "healthy for dependents"
)

// check says whether service has reached g (true), cannot reach it any more (error), or may still (false, nil).
func (t *tracker) check(service string, g goal) (bool, error) {
	st := t.svc[service]
	if st == nil {
		return false, nil
	}
	if st.failed != nil {
		return false, st.failed
	}
	if st.done {
		return true, nil
	}
	switch g {
	case goalStarted:
		return st.state == stateRunning || st.died || st.state == stateExited, nil
	case goalCompleted:
		if st.state == stateExited || st.died {
			if st.exitCode == 0 {
				return true, nil
			}
			return false, exitFailure{code: st.exitCode, oom: st.oom}
		}
		return false, nil
	}
	if st.died || st.state == stateExited || st.state == stateDead {
		return false, exitFailure{code: st.exitCode, oom: st.oom}
	}
	switch g {
	case goalHealthy, goalReady:
		switch st.health {
		case string(container.Healthy):
			return true, nil
		case string(container.Unhealthy):
			return false, errUnhealthy
		case "":
			if st.state == stateRunning {
				return false, errNoHealthcheck
			}
		}
		return g == goalReady && st.probed, nil
	default:
		if st.health == string(container.Unhealthy) {
			return false, errUnhealthy
		}
		return st.state == stateRunning, nil
	}
}

var (
	errUnhealthy     = fmt.Errorf("is unhealthy")
	errNoHealthcheck = fmt.Errorf("has no health check, so service_healthy can never hold: add a healthcheck or use service_started")
)

type exitFailure struct {
	code int
	oom  bool
}

func (e exitFailure) Error() string {
	if e.oom {
		return fmt.Sprintf("was killed for lack of memory (OOM, exit %d): raise its memory limit", e.code)
	}
	return fmt.Sprintf("exited with code %d", e.code)
}

// wait blocks until service reaches g, fails, or ctx ends.
func (t *tracker) wait(ctx context.Context, service string, g goal) error {
	for {
		t.mu.Lock()
		ok, err := t.check(service, g)
		if err == nil && t.err != nil {
			err = t.err
		}
		ch := t.changed
		t.mu.Unlock()
		if ok || err != nil {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// needsProbe says whether the deployer's own health probe of container id for service is still worth running:
// it has not passed, the engine has given no verdict, and the container has not stopped.
func (t *tracker) needsProbe(service, id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.svc[service]
	if st == nil || st.id != id || st.probed || st.failed != nil || st.died {
		return false
	}
	switch st.state {
	case stateExited, stateDead:
		return false
	}
	return st.health != string(container.Healthy) && st.health != string(container.Unhealthy)
}

// markProbed records that container id's health test passed when the deployer ran it.
func (t *tracker) markProbed(service, id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st := t.svc[service]; st != nil && st.id == id {
		st.probed = true
		t.broadcast()
	}
}

// changes returns a channel that is closed at the next change.
func (t *tracker) changes() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.changed
}

func (t *tracker) containerID(service string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st := t.svc[service]; st != nil {
		return st.id
	}
	return ""
}
