package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/stack/settings"
)

type upOptions struct {
	io            *ioStreams
	flags         deployFlags
	pull          string
	output        string
	waitTimeout   time.Duration
	dryRun        bool
	removeOrphans bool
	// reread runs the root's pre-run again once the wizard wrote the .env, whose DEPLOY_TARGET (and project)
	// the pre-run read before it existed.
	reread func() error
}

func newCmdUp(io *ioStreams, open openTarget) *cobra.Command {
	opts := &upOptions{io: io, flags: deployFlags{open: open}}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Deploy the stack and wait until every service is healthy",
		Long: `up deploys the stack described by the .env through the Docker Engine API: it creates the network and
volumes, pulls missing images (or builds the connector image from --connector-binary), formats the TigerBeetle
data file once, starts each service when its dependencies are ready and waits until all are healthy.

Run it again at any time: what is unchanged is left alone, a changed setting recreates only the services it
touches. Containers carry Compose's labels, so 'docker compose -p m2m ps' sees them too.`,
		Example: `  m2mctl up
  m2mctl up --dry-run
  m2mctl up --connector-binary ./m2m-connector --pull never`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.reread = func() error {
				if pre := cmd.Root().PersistentPreRunE; pre != nil {
					return pre(cmd, args)
				}
				return nil
			}
			return upRun(cmd.Context(), opts)
		},
	}
	opts.flags.register(cmd, true)
	f := cmd.Flags()
	f.StringVar(&opts.pull, "pull", deployer.PullMissing, "image pull policy: missing, always or never")
	f.StringVarP(&opts.output, "output", "o", "text", "progress format: text or json (one event per line on stdout)")
	f.DurationVar(&opts.waitTimeout, "wait-timeout", 5*time.Minute, "how long to wait for every service to be healthy")
	f.BoolVar(&opts.dryRun, "dry-run", false, "print the plan and change nothing")
	f.BoolVar(&opts.removeOrphans, "remove-orphans", false, "remove containers of services no longer in the stack")
	return cmd
}

func upRun(ctx context.Context, opts *upOptions) error {
	if err := checkOutput(opts.output); err != nil {
		return err
	}
	if err := checkPull(opts.pull); err != nil {
		return err
	}
	if opts.waitTimeout <= 0 {
		return usageErrorf("--wait-timeout %s: give a positive duration such as 5m", opts.waitTimeout)
	}
	if _, err := os.Stat(opts.flags.envFile); errors.Is(err, os.ErrNotExist) {
		if !opts.io.IsInteractive() || opts.dryRun {
			return usageErrorf("no settings file at %s: run `m2mctl init` to write one (or pass --env-file)", opts.flags.envFile)
		}
		fmt.Fprintf(opts.io.ErrOut, "No %s yet: let's write one first.\n", opts.flags.envFile)
		initCmd := newCmdInit(opts.io)
		initCmd.SetArgs([]string{"--output", opts.flags.envFile})
		initCmd.SetIn(opts.io.In)
		initCmd.SetOut(opts.io.Out)
		initCmd.SetErr(opts.io.ErrOut)
		if err := initCmd.ExecuteContext(ctx); err != nil {
			return err
		}
		if opts.reread != nil {
			if err := opts.reread(); err != nil {
				return err
			}
		}
	}
	opts.flags.warn = opts.io.ErrOut
	project, target, err := opts.loadAndOpen(ctx)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := checkSwarmLabels(ctx, target, opts.flags.envFile); err != nil {
		return err
	}
	dopts := opts.flags.deployOptions(project, opts.pull)
	dopts.RemoveOrphans = opts.removeOrphans
	if opts.dryRun {
		plan, err := target.Plan(ctx, project, dopts)
		if err != nil {
			return explainDeployError(err)
		}
		return printPlan(opts.io.Out, plan, opts.output)
	}

	if err := prepareProjectDir(opts.io, project.WorkingDir); err != nil {
		return err
	}
	prog := newProgress(opts.io, opts.output)
	start := time.Now()
	_, err = target.Up(ctx, project, deployer.UpOptions{Options: dopts, WaitTimeout: opts.waitTimeout, Reporter: prog})
	prog.stop()
	switch {
	case errors.Is(err, deployer.ErrInterrupted):
		fmt.Fprintf(opts.io.ErrOut, "Interrupted. What was already started keeps running; nothing is half-made.\n"+
			"Run `m2mctl up` again to finish, `m2mctl status -p %s` to see where it stands, or `m2mctl down -p %s` to stop it.\n",
			project.Name, project.Name)
		return exitError{code: 130}
	case err != nil:
		return explainDeployError(err)
	}
	if opts.output == "text" {
		fmt.Fprintf(opts.io.ErrOut, "Stack %s is up (%s). See it with `m2mctl status`.\n", project.Name, time.Since(start).Round(100*time.Millisecond))
	}
	return nil
}

// progress renders deployer events: one live line per service on a terminal, plain lines otherwise,
// JSON lines on stdout with -o json.
type progress struct {
	mu    sync.Mutex
	out   io.Writer
	mode  string // live, plain, json
	color bool
	lines []*progressLine
	byKey map[string]*progressLine
	drawn int
	done  chan struct{}
	wg    sync.WaitGroup
}

type progressLine struct {
	kind, name, status, detail string
	cur, total                 int64
	start, end                 time.Time
	final, failed              bool
}

func newProgress(io *ioStreams, output string) *progress {
	p := &progress{out: io.ErrOut, mode: "plain", byKey: map[string]*progressLine{}, done: make(chan struct{})}
	switch {
	case output == "json":
		p.mode, p.out = "json", io.Out
	case io.ProgressIsLive():
		p.mode, p.color = "live", !io.noColor
		p.wg.Add(1)
		go p.tick()
	}
	return p
}

// Report implements deployer.Reporter.
func (p *progress) Report(e deployer.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Status == deployer.StatusOrphan {
		e.Detail += "; remove it with --remove-orphans"
	}
	if p.mode == "json" {
		json.NewEncoder(p.out).Encode(e)
		return
	}
	key := e.Kind + "/" + e.Name
	l := p.byKey[key]
	if l == nil {
		l = &progressLine{kind: e.Kind, name: e.Name, start: e.Time}
		p.byKey[key] = l
		p.lines = append(p.lines, l)
	}
	changed := l.status != e.Status
	l.status, l.detail, l.cur, l.total, l.final, l.failed = e.Status, e.Detail, e.Current, e.Total, e.Final, e.Failed
	if e.Final {
		l.end = e.Time
	}
	switch {
	case p.mode == "live":
		p.draw()
	case changed || e.Final:
		fmt.Fprintln(p.out, p.render(l, e.Time))
	}
}

func (p *progress) render(l *progressLine, now time.Time) string {
	mark := "…"
	switch {
	case l.failed:
		mark = "✘"
	case l.status == deployer.StatusStopped:
		mark = "-"
	case l.final:
		mark = "✔"
	}
	if p.color {
		switch mark {
		case "✘":
			mark = "\x1b[31m" + mark + "\x1b[0m"
		case "✔":
			mark = "\x1b[32m" + mark + "\x1b[0m"
		}
	}
	end := now
	if !l.end.IsZero() {
		end = l.end
	}
	s := fmt.Sprintf("%s %-7s %-28s %-11s %5.1fs", mark, l.kind, l.name, l.status, end.Sub(l.start).Seconds())
	if l.total > 0 {
		s += fmt.Sprintf("  %s / %s", byteSize(l.cur), byteSize(l.total))
	}
	if l.detail != "" {
		s += "  " + l.detail
	}
	return s
}

// draw redraws every line in place; the caller holds p.mu.
func (p *progress) draw() {
	if p.drawn > 0 {
		fmt.Fprintf(p.out, "\x1b[%dA", p.drawn)
	}
	now := time.Now()
	for _, l := range p.lines {
		fmt.Fprintf(p.out, "\r\x1b[2K%s\n", p.render(l, now))
	}
	p.drawn = len(p.lines)
}

func (p *progress) tick() {
	defer p.wg.Done()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
		}
	}
}

func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
	if p.mode == "live" {
		p.mu.Lock()
		p.draw()
		p.mu.Unlock()
	}
}

func byteSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// loadAndOpen loads the stack while it connects to the target and asks the engine about its memory: one
// after the other they were most of the time of an up with nothing to do. A problem in the .env is reported
// before one with the engine, as when they ran in turn.
func (opts *upOptions) loadAndOpen(ctx context.Context) (*types.Project, deployer.Target, error) {
	type opened struct {
		target  deployer.Target
		warning string
		err     error
	}
	ch := make(chan opened, 1)
	go func() {
		t, err := opts.flags.open(ctx)
		o := opened{target: t, err: err}
		if err == nil {
			o.warning = engineMemoryWarning(ctx, t)
		}
		ch <- o
	}()
	project, err := opts.flags.loadProject(ctx)
	if err != nil {
		go func() {
			if o := <-ch; o.err == nil {
				o.target.Close()
			}
		}()
		return nil, nil, err
	}
	o := <-ch
	if o.err != nil {
		return nil, nil, o.err
	}
	if _, ok := project.Services[settings.ServiceTigerBeetle]; ok && o.warning != "" {
		fmt.Fprintln(opts.io.ErrOut, o.warning)
	}
	return project, o.target, nil
}
