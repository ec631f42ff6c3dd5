package deployer

import (
	"context"
	"time"
)

// watchEvery is how often Watch looks at the tasks: a manager's events (API 1.41) say that a service changed,
// not what its tasks did.
const watchEvery = time.Second

// Watch calls fn whenever a service of the stack changes: its newest task runs ("started", or "restarted" when
// it replaced another), ends ("died", with the task's error), waits, or its node goes down ("node-down") — and
// when a service appears or is removed. It polls the tasks until ctx ends.
func (s *Swarm) Watch(ctx context.Context, project string, fn func(WatchEvent)) error {
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	var last map[string]ServiceStatus
	for {
		rows, err := s.Status(ctx, project, nil)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		now := map[string]ServiceStatus{}
		for _, row := range rows {
			now[row.Service] = row
			if last == nil {
				continue
			}
			if prev, seen := last[row.Service]; !seen || changed(prev, row) {
				fn(watchEvent(prev, row, seen))
			}
		}
		for name, prev := range last {
			if _, ok := now[name]; !ok {
				fn(WatchEvent{Time: time.Now(), Service: name, Container: prev.Container, Event: "removed"})
			}
		}
		last = now
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func changed(prev, row ServiceStatus) bool {
	return prev.State != row.State || prev.Node != row.Node || prev.Health != row.Health || prev.Restarts != row.Restarts ||
		!prev.StartedAt.Equal(row.StartedAt)
}

// watchEvent names the change from prev to row in the words of the one-host Watch where they mean the same.
func watchEvent(prev, row ServiceStatus, seen bool) WatchEvent {
	e := WatchEvent{Time: time.Now(), Service: row.Service, Container: row.Container, Event: row.State, Detail: "on " + row.Node}
	if row.Health != "" {
		e.Detail += ": " + row.Health
	}
	switch {
	case !seen:
		e.Event = "created"
	case row.State == "running" && prev.State == "running":
		e.Event = "restarted" // a new task took the place of the one that ran
	case row.State == "running":
		e.Event = "started"
	case row.State == "failed" || row.State == "rejected" || row.State == "shutdown" || row.State == "orphaned":
		e.Event = "died"
	}
	return e
}
