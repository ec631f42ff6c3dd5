package deployer

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// ServiceStatus is one row of `m2mctl status`.
type ServiceStatus struct {
	Service   string    `json:"service"`
	Container string    `json:"container,omitempty"`
	State     string    `json:"state"` // running, exited, created, restarting, missing, …
	Health    string    `json:"health,omitempty"`
	ExitCode  int       `json:"exitCode"`
	OOMKilled bool      `json:"oomKilled,omitempty"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	Uptime    string    `json:"uptime,omitempty"`
	Restarts  int       `json:"restarts"`
	Ports     []string  `json:"ports,omitempty"` // 127.0.0.1:9090->9090/tcp
	Image     string    `json:"image"`
	// Node is the machine the container runs on, for targets that span several ("" on one host).
	Node string `json:"node,omitempty"`
	// OK is true when the service is where it should be: running and healthy (or without a health check),
	// or a one-shot that completed or was not needed.
	OK bool `json:"ok"`
	// Published lists the container ports published on the host, for probing.
	Published []PublishedPort `json:"published,omitempty"`
}

// HostAddr is the host:port where a client on this host reaches the service's container port target
// ("8080/tcp"); "" when it is not published.
func (s ServiceStatus) HostAddr(target string) string {
	for _, p := range s.Published {
		if p.Target == target {
			return p.Addr()
		}
	}
	return ""
}

// Status reports every container of project, plus a "missing" row for each name in want with no container.
func (d *Deployer) Status(ctx context.Context, project string, want []string) ([]ServiceStatus, error) {
	obs, err := d.Observe(ctx, project)
	if err != nil {
		return nil, err
	}
	var out []ServiceStatus
	now := time.Now()
	for _, svc := range sortedKeys(obs.Containers) {
		for _, c := range obs.Containers[svc] {
			out = append(out, statusOf(c, now))
		}
	}
	for _, w := range want {
		if len(obs.Containers[w]) == 0 {
			out = append(out, ServiceStatus{Service: w, State: "missing"})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out, nil
}

func statusOf(c Container, now time.Time) ServiceStatus {
	s := ServiceStatus{Service: c.Service, Container: c.Name, State: c.State, Health: c.Health,
		ExitCode: c.ExitCode, OOMKilled: c.OOMKilled, Restarts: c.Restarts, Image: c.Image, Published: c.Ports}
	if c.State == stateRunning && !c.StartedAt.IsZero() {
		s.StartedAt = c.StartedAt
		s.Uptime = now.Sub(c.StartedAt).Round(time.Second).String()
	}
	for _, p := range c.Ports {
		s.Ports = append(s.Ports, p.Host+"->"+p.Target)
	}
	if c.State == stateRunning {
		s.OK = c.Health == "" || c.Health == string(container.Healthy)
	} else if _, ok := finished(c); ok {
		s.OK, s.State = true, "completed"
		if c.State != stateExited {
			s.State = "not needed"
		}
	}
	return s
}

// WatchEvent is a change `status --watch` shows: a health change, a death, an OOM kill or a restart.
type WatchEvent struct {
	Time      time.Time `json:"time"`
	Service   string    `json:"service"`
	Container string    `json:"container"`
	Event     string    `json:"event"` // healthy, unhealthy, died, oom, started, restarted
	Detail    string    `json:"detail,omitempty"`
}

// Watch calls fn for each health change, death, OOM kill and (re)start of project's containers until ctx ends.
func (d *Deployer) Watch(ctx context.Context, project string, fn func(WatchEvent)) error {
	res := d.cli.Events(ctx, client.EventsListOptions{Filters: projectFilter(project).Add("type", "container")})
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-res.Err:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("docker events: %w", Explain(err))
		case m := <-res.Messages:
			ev := WatchEvent{Time: time.Unix(0, m.TimeNano), Service: m.Actor.Attributes[LabelService], Container: m.Actor.Attributes["name"]}
			action := string(m.Action)
			switch {
			case strings.HasPrefix(action, "health_status"):
				ev.Event = strings.TrimSpace(strings.TrimPrefix(action, "health_status:"))
			case m.Action == events.ActionDie:
				ev.Event, ev.Detail = "died", "exit code "+m.Actor.Attributes["exitCode"]
			case m.Action == events.ActionOOM:
				ev.Event, ev.Detail = "oom", "killed for lack of memory"
			case m.Action == events.ActionStart:
				ev.Event = "started"
			case m.Action == events.ActionRestart:
				ev.Event = "restarted"
			default:
				continue
			}
			fn(ev)
		}
	}
}
