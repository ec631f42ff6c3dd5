package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/spf13/cobra"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/stack"
)

type statusOptions struct {
	io     *ioStreams
	flags  deployFlags
	output string
	watch  bool
	// probe fetches the connector's /health; tests replace it.
	httpClient *http.Client
}

func newCmdStatus(io *ioStreams, open openTarget) *cobra.Command {
	opts := &statusOptions{io: io, flags: deployFlags{open: open}, httpClient: &http.Client{Timeout: 2 * time.Second}}
	cmd := &cobra.Command{
		Use:     "status",
		Aliases: []string{"health"},
		Short:   "Show each service's state, health, uptime, restarts and ports",
		Long: `status shows every service of the stack: state, health, uptime, restarts, published ports and image,
and — when the connector answers on its health port — its dependencies and peer counts. It exits 0 only
when every service is healthy (or, for one-shots, completed). With --watch it then streams health
changes, restarts and OOM kills until interrupted; on a Swarm (DEPLOY_TARGET=swarm) it streams each
service's task changes — started, died, restarted, node-down — with the node they happened on.`,
		Example: `  m2mctl status
  m2mctl status -o json
  m2mctl status --watch`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return statusRun(cmd.Context(), opts) },
	}
	opts.flags.register(cmd, false)
	cmd.Flags().StringVarP(&opts.output, "output", "o", "text", "output format: text or json")
	cmd.Flags().BoolVarP(&opts.watch, "watch", "w", false, "then stream health changes, restarts and OOM kills until interrupted")
	return cmd
}

// connectorHealth is the part of the connector's /health answer that status shows.
type connectorHealth struct {
	Status       string `json:"status"`
	Dependencies map[string]struct {
		Status   string `json:"status"`
		Required bool   `json:"required"`
	} `json:"dependencies"`
	Peers struct {
		Connected  int `json:"connected"`
		Discovered int `json:"discovered"`
	} `json:"peers"`
}

type statusReport struct {
	Project   string                   `json:"project"`
	Healthy   bool                     `json:"healthy"`
	Services  []deployer.ServiceStatus `json:"services"`
	Connector *connectorHealth         `json:"connector,omitempty"`
}

func statusRun(ctx context.Context, opts *statusOptions) error {
	if err := checkOutput(opts.output); err != nil {
		return err
	}
	target, err := opts.flags.open(ctx)
	if err != nil {
		return err
	}
	defer target.Close()
	rows, err := target.Status(ctx, opts.flags.project, opts.wantedServices(ctx))
	if err != nil {
		return err
	}
	rep := statusReport{Project: opts.flags.project, Services: rows, Healthy: len(rows) > 0}
	for _, r := range rows {
		rep.Healthy = rep.Healthy && r.OK
		if r.Service == settings.ServiceConnector {
			if addr := r.HostAddr(fmt.Sprintf("%d/tcp", stack.ContainerHealthPort)); addr != "" {
				rep.Connector = opts.probe(ctx, "http://"+addr+"/health")
			}
		}
	}
	if opts.output == "json" {
		enc := json.NewEncoder(opts.io.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := printStatus(opts.io.Out, rep); err != nil {
		return err
	}
	if opts.watch {
		return watchRun(ctx, opts, target)
	}
	if !rep.Healthy {
		return exitError{code: exitFailed}
	}
	return nil
}

// wantedServices lists the services the .env describes, so that one with no container shows as missing.
// Without a readable .env, status shows what runs. Only the names are needed: the stack as built, with the
// enabled profiles, names them, and loading it as a Compose project (validated, normalised) took longer
// than everything else status does.
func (opts *statusOptions) wantedServices(context.Context) []string {
	if _, err := os.Stat(opts.flags.envFile); err != nil {
		return nil
	}
	values, err := settings.Load(opts.flags.envFile)
	if err != nil {
		return nil
	}
	var names []string
	for name, svc := range stack.Build(values).Services {
		if len(svc.Profiles) == 0 || slices.ContainsFunc(svc.Profiles, func(p string) bool { return slices.Contains(opts.flags.profiles, p) }) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

func (opts *statusOptions) probe(ctx context.Context, url string) *connectorHealth {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil
	}
	resp, err := opts.httpClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var h connectorHealth
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&h); err != nil || h.Status == "" {
		return nil
	}
	return &h
}

func printStatus(w io.Writer, rep statusReport) error {
	if len(rep.Services) == 0 {
		fmt.Fprintf(w, "Nothing of project %s runs here. Deploy it with `m2mctl up`.\n", rep.Project)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	nodes := slices.ContainsFunc(rep.Services, func(s deployer.ServiceStatus) bool { return s.Node != "" })
	fmt.Fprintln(tw, "SERVICE\tSTATE\tHEALTH\tUPTIME\tRESTARTS\tPORTS\tIMAGE"+map[bool]string{true: "\tNODE"}[nodes])
	for _, r := range rep.Services {
		health := r.Health
		if health == "" {
			health = "-"
		}
		state := r.State
		if r.State == "exited" {
			state = fmt.Sprintf("exited (%d)", r.ExitCode)
		}
		if r.OOMKilled {
			state += " OOM"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s", r.Service, state, health, dash(r.Uptime), r.Restarts, dash(strings.Join(r.Ports, ", ")), dash(r.Image))
		if nodes {
			fmt.Fprintf(tw, "\t%s", dash(r.Node))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if c := rep.Connector; c != nil {
		var deps []string
		for name, dep := range c.Dependencies {
			deps = append(deps, name+" "+dep.Status)
		}
		sort.Strings(deps)
		fmt.Fprintf(w, "\nconnector: %s; dependencies: %s; peers: %d connected, %d discovered\n",
			c.Status, dash(strings.Join(deps, ", ")), c.Peers.Connected, c.Peers.Discovered)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func watchRun(ctx context.Context, opts *statusOptions, target deployer.Target) error {
	if opts.output == "text" {
		fmt.Fprintln(opts.io.ErrOut, "\nWatching health changes, restarts and OOM kills; Ctrl-C to stop.")
	}
	enc := json.NewEncoder(opts.io.Out)
	return target.Watch(ctx, opts.flags.project, func(e deployer.WatchEvent) {
		if opts.output == "json" {
			enc.Encode(e)
			return
		}
		fmt.Fprintf(opts.io.Out, "%s  %-20s %-10s %s\n", e.Time.Local().Format(time.TimeOnly), e.Service, e.Event, e.Detail)
	})
}
