package deployer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// Status reports every service of the stack with its newest task: its state, the node it runs on, and
// whether that node is up. A task on a node that is down is not OK, whatever the task last reported.
func (s *Swarm) Status(ctx context.Context, project string, want []string) ([]ServiceStatus, error) {
	have, err := s.services(ctx, project)
	if err != nil {
		return nil, err
	}
	nodes := map[string]swarm.Node{}
	if res, err := s.cli.NodeList(ctx, client.NodeListOptions{}); err == nil {
		for _, n := range res.Items {
			nodes[n.ID] = n
		}
	}
	var out []ServiceStatus
	now := time.Now()
	for _, name := range sortedKeys(have) {
		svc := have[name]
		row := ServiceStatus{Service: name, Container: shortID(svc.ID), State: "pending", Image: svc.Spec.Labels[labelStackImage]}
		tasks, err := s.tasksOf(ctx, svc.ID)
		if err != nil {
			return nil, err
		}
		if len(tasks) > 0 {
			task := &tasks[0]
			row.State = string(task.Status.State)
			row.Health = ""
			if task.Status.Err != "" {
				row.Health = task.Status.Err
			}
			node, known := nodes[task.NodeID]
			row.Node = nodeName(node)
			if !known {
				row.Node = shortID(task.NodeID)
			}
			job := svc.Spec.Mode.ReplicatedJob != nil
			row.OK = (job && task.Status.State == swarm.TaskStateComplete) || (!job && task.Status.State == swarm.TaskStateRunning)
			if !job {
				row.Restarts = len(tasks) - 1 // the Swarm keeps a few finished tasks: each was a (re)start
			}
			if row.OK && !job {
				row.StartedAt = task.Status.Timestamp
				row.Uptime = now.Sub(task.Status.Timestamp).Round(time.Second).String()
			}
			// A task that replaces one on a lost node waits for that node when the placement allows no other:
			// say which node the service lost.
			for i := range tasks {
				if n, ok := nodes[tasks[i].NodeID]; ok && !job {
					if n.Status.State != swarm.NodeStateReady {
						row.State, row.OK, row.Node = "node-down", false, nodeName(n)
						row.Health = fmt.Sprintf("node %s is %s", nodeName(n), n.Status.State)
					}
					break
				}
			}
			for _, p := range task.Status.PortStatus.Ports {
				row.Ports = append(row.Ports, fmt.Sprintf("%d->%d/%s", p.PublishedPort, p.TargetPort, p.Protocol))
			}
		}
		out = append(out, row)
	}
	for _, w := range want {
		if _, ok := have[w]; !ok {
			out = append(out, ServiceStatus{Service: w, State: "missing"})
		}
	}
	return out, nil
}

// Logs copies the services' logs (every task's, as the manager gathers them) to out.
func (s *Swarm) Logs(ctx context.Context, project string, opts LogsOptions, out io.Writer) error {
	have, err := s.services(ctx, project)
	if err != nil {
		return err
	}
	names := opts.Services
	if len(names) == 0 {
		names = sortedKeys(have)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, name := range names {
		svc, ok := have[name]
		if !ok {
			return fmt.Errorf("service %q is not in stack %s (known: %v)", name, project, sortedKeys(have))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := s.cli.ServiceLogs(ctx, svc.ID, client.ServiceLogsOptions{ShowStdout: true, ShowStderr: true, Follow: opts.Follow, Tail: opts.Tail})
			if err != nil {
				errs[i] = fmt.Errorf("logs of %s: %w", name, Explain(err))
				return
			}
			defer rc.Close()
			prefix := ""
			if opts.Prefix {
				prefix = name + " | "
			}
			w := &prefixWriter{out: out, prefix: prefix, mu: &mu}
			if _, err := stdcopy.StdCopy(w, w, rc); err != nil && ctx.Err() == nil {
				errs[i] = err
			}
			w.flush()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// prefixWriter writes whole lines, each with the prefix, under a lock shared by every service.
type prefixWriter struct {
	out    io.Writer
	prefix string
	mu     *sync.Mutex
	buf    []byte
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := indexByte(w.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		w.mu.Lock()
		_, err := fmt.Fprintf(w.out, "%s%s\n", w.prefix, w.buf[:i])
		w.mu.Unlock()
		w.buf = w.buf[i+1:]
		if err != nil {
			return 0, err
		}
	}
}

func (w *prefixWriter) flush() {
	if len(w.buf) > 0 {
		w.mu.Lock()
		fmt.Fprintf(w.out, "%s%s\n", w.prefix, w.buf)
		w.mu.Unlock()
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// Down removes the stack's services, waits until their tasks are gone, then its networks, secrets and
// configs. Volumes stay on their nodes unless opts.Volumes: then those on the manager's own engine are removed
// and a *SwarmVolumesError names the ones on other nodes, which only their own engines can remove.
func (s *Swarm) Down(ctx context.Context, project string, opts DownOptions) error {
	have, err := s.services(ctx, project)
	if err != nil {
		return err
	}
	var byNode map[string][]string
	if opts.Volumes {
		if byNode, err = s.volumesByNode(ctx, project); err != nil {
			return err
		}
	}
	r := opts.Reporter
	for _, name := range sortedKeys(have) {
		if _, err := s.cli.ServiceRemove(ctx, have[name].ID, client.ServiceRemoveOptions{}); err != nil && !isNotFound(err) {
			return fmt.Errorf("remove service %s: %w", name, Explain(err))
		}
		report(r, Event{Kind: "service", Name: name, Status: StatusRemoved, Final: true})
	}
	if err := s.waitTasksGone(ctx, project); err != nil {
		return err
	}
	byLabel := make(client.Filters).Add("label", labelStackNamespace+"="+project)
	nets, err := s.cli.NetworkList(ctx, client.NetworkListOptions{Filters: byLabel})
	if err != nil {
		return fmt.Errorf("list networks: %w", Explain(err))
	}
	for _, n := range nets.Items {
		if _, err := s.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			return fmt.Errorf("remove network %s: %w", n.Name, Explain(err))
		}
	}
	if secrets, err := s.cli.SecretList(ctx, client.SecretListOptions{Filters: byLabel}); err == nil {
		for _, x := range secrets.Items {
			_, _ = s.cli.SecretRemove(ctx, x.ID, client.SecretRemoveOptions{})
		}
	}
	if configs, err := s.cli.ConfigList(ctx, client.ConfigListOptions{Filters: byLabel}); err == nil {
		for _, x := range configs.Items {
			_, _ = s.cli.ConfigRemove(ctx, x.ID, client.ConfigRemoveOptions{})
		}
	}
	if opts.Volumes {
		return s.removeVolumes(ctx, project, byNode)
	}
	return nil
}

// taskEnded reports whether a task is past running: its container is stopped (a Swarm keeps such tasks a while).
func taskEnded(s swarm.TaskState) bool {
	switch s {
	case swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateFailed, swarm.TaskStateRejected, swarm.TaskStateOrphaned, swarm.TaskStateRemove:
		return true
	}
	return false
}

// waitTasksGone waits until every task of the stack's services has ended (its container stopped), so that
// the network can go.
func (s *Swarm) waitTasksGone(ctx context.Context, project string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		res, err := s.cli.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("label", labelStackNamespace+"="+project)})
		if err != nil {
			return fmt.Errorf("list tasks: %w", Explain(err))
		}
		if !slices.ContainsFunc(res.Items, func(t swarm.Task) bool { return !taskEnded(t.Status.State) }) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("tasks of %s still there after the services were removed: %w", project, ctx.Err())
		case <-tick.C:
		}
	}
}
