package deployer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"
)

// LogsOptions steer Logs.
type LogsOptions struct {
	Services []string // none means all
	Follow   bool
	Tail     string // "all" or a number of lines per container
	// Prefix puts "service | " before each line; set it when more than one service is shown.
	Prefix bool
}

// Logs copies the logs of project's containers to out, one line at a time, until they end (or ctx ends
// when following).
func (d *Deployer) Logs(ctx context.Context, project string, opts LogsOptions, out io.Writer) error {
	obs, err := d.Observe(ctx, project)
	if err != nil {
		return err
	}
	var picked []Container
	names := opts.Services
	if len(names) == 0 {
		names = sortedKeys(obs.Containers)
	}
	for _, n := range names {
		cs, ok := obs.Containers[n]
		if !ok {
			return fmt.Errorf("service %q has no container in project %s (known: %v)", n, project, sortedKeys(obs.Containers))
		}
		picked = append(picked, cs...)
	}
	width := 0
	for _, c := range picked {
		width = max(width, len(c.Service))
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range picked {
		g.Go(func() error {
			prefix := ""
			if opts.Prefix {
				prefix = fmt.Sprintf("%-*s | ", width, c.Service)
			}
			return d.copyLogs(gctx, c, opts, prefix, out, &mu)
		})
	}
	err = g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (d *Deployer) copyLogs(ctx context.Context, c Container, opts LogsOptions, prefix string, out io.Writer, mu *sync.Mutex) error {
	tail := opts.Tail
	if tail == "" {
		tail = "all"
	}
	rc, err := d.cli.ContainerLogs(ctx, c.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: opts.Follow, Tail: tail})
	if err != nil {
		return fmt.Errorf("logs of %s: %w", c.Name, Explain(err))
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	go func() {
		var err error
		if c.Tty {
			_, err = io.Copy(pw, rc)
		} else {
			_, err = stdcopy.StdCopy(pw, pw, rc)
		}
		pw.CloseWithError(err)
	}()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		mu.Lock()
		_, err := fmt.Fprintf(out, "%s%s\n", prefix, sc.Text())
		mu.Unlock()
		if err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs of %s: %w", c.Name, err)
	}
	return nil
}
