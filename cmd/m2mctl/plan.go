package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/stack"
)

// deployFlags are the flags that plan, up, status, logs and down share.
type deployFlags struct {
	open            openTarget
	envFile         string
	project         string
	connectorBinary string
	profiles        []string
	warn            io.Writer // where loadProject prints the settings' warnings; nil: nowhere
}

// register adds -p and --env-file; deploys (plan, up) also get --connector-binary and --profile.
func (f *deployFlags) register(cmd *cobra.Command, deploys bool) {
	fl := cmd.Flags()
	fl.StringVarP(&f.project, "project-name", "p", stack.ProjectName, "Compose project name: containers, network and volumes are labelled with it")
	fl.StringVar(&f.envFile, "env-file", ".env", "settings file the stack is described by")
	if !deploys {
		return
	}
	fl.StringVar(&f.connectorBinary, "connector-binary", "", "static m2m-connector binary to build the connector image from when it is absent (FROM scratch, no pull)")
	fl.StringArrayVar(&f.profiles, "profile", nil, "enable an optional service profile: tracing, discovery (repeatable)")
}

// loadProject reads and checks the .env, then builds the project exactly as `docker compose` would load it.
func (f *deployFlags) loadProject(ctx context.Context) (*types.Project, error) {
	// A .env with problems exits 1 here as it does for `m2mctl config`: the list names every line to fix.
	values, err := settings.Load(f.envFile)
	if err != nil {
		return nil, withMigrateHint(f.envFile, err)
	}
	if f.warn != nil {
		printWarnings(f.warn, values)
	}
	return f.projectFor(ctx, values)
}

// projectFor builds the project from values (a loaded .env, possibly with some values replaced).
func (f *deployFlags) projectFor(ctx context.Context, values settings.Values) (*types.Project, error) {
	for _, p := range f.profiles {
		if p != stack.ProfileTracing && p != stack.ProfileDiscovery {
			return nil, usageErrorf("--profile %q: the stack's profiles are %s and %s", p, stack.ProfileTracing, stack.ProfileDiscovery)
		}
	}
	dir, err := filepath.Abs(filepath.Dir(f.envFile))
	if err != nil {
		return nil, err
	}
	load := stack.Project
	if values.String(settings.DeployTarget) == settings.TargetSwarm {
		load = stack.SwarmStack
	}
	return load(ctx, values, stack.LoadOptions{
		ProjectName: f.project, WorkingDir: dir, Profiles: f.profiles, Environment: values,
	})
}

// localConnectorRepo is the connector image's repository when it is built on the host. It is never pulled: an
// image of that name on a public registry would be someone else's.
const localConnectorRepo = "m2m/connector:"

// deployOptions turns the flags into the deployer's options: the connector image is built from
// --connector-binary when it is absent.
func (f *deployFlags) deployOptions(p *types.Project, pull string) deployer.Options {
	opts := deployer.Options{Pull: pull, BuildFromBinary: map[string]string{}, LocalOnly: map[string]string{}}
	bin := f.connectorBinary
	for _, name := range []string{settings.ServiceConnector, "discovery"} {
		if s, ok := p.Services[name]; ok {
			if bin != "" {
				opts.BuildFromBinary[s.Image] = bin
			}
			if !strings.HasPrefix(s.Image, localConnectorRepo) {
				continue // an operator's own registry: pulled like any other image
			}
			opts.LocalOnly[s.Image] = "the connector image is built on this host, not published: run `make image-local` " +
				"(deploy/build-local.sh), or pass --connector-binary PATH (a static m2m-connector)"
		}
	}
	return opts
}

type planOptions struct {
	io     *ioStreams
	flags  deployFlags
	pull   string
	output string
}

func newCmdPlan(io *ioStreams, open openTarget) *cobra.Command {
	opts := &planOptions{io: io, flags: deployFlags{open: open}}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what 'm2mctl up' would create, recreate, start or keep, and why",
		Long: `plan compares the stack described by the .env with what runs on the Docker engine and prints,
for every network, volume, image and service, what 'm2mctl up' would do and why. Nothing is changed.`,
		Example: `  m2mctl plan
  m2mctl plan -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return planRun(cmd.Context(), opts) },
	}
	opts.flags.register(cmd, true)
	cmd.Flags().StringVar(&opts.pull, "pull", deployer.PullMissing, "image pull policy: missing, always or never")
	cmd.Flags().StringVarP(&opts.output, "output", "o", "text", "output format: text or json")
	return cmd
}

func planRun(ctx context.Context, opts *planOptions) error {
	if err := checkOutput(opts.output); err != nil {
		return err
	}
	if err := checkPull(opts.pull); err != nil {
		return err
	}
	project, err := opts.flags.loadProject(ctx)
	if err != nil {
		return err
	}
	target, err := opts.flags.open(ctx)
	if err != nil {
		return err
	}
	defer target.Close()
	warnLowMemory(ctx, opts.io.ErrOut, project, target)
	if err := checkSwarmLabels(ctx, target, opts.flags.envFile); err != nil {
		return err // up would refuse: the plan says so
	}
	plan, err := target.Plan(ctx, project, opts.flags.deployOptions(project, opts.pull))
	if err != nil {
		return explainDeployError(err)
	}
	return printPlan(opts.io.Out, plan, opts.output)
}

func checkOutput(o string) error {
	if o != "text" && o != "json" {
		return usageErrorf("--output %q: use text or json", o)
	}
	return nil
}

func checkPull(p string) error {
	switch p {
	case deployer.PullMissing, deployer.PullAlways, deployer.PullNever:
		return nil
	}
	return usageErrorf("--pull %q: use missing, always or never", p)
}

func printPlan(w io.Writer, plan *deployer.Plan, output string) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(plan)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "KIND\tNAME\tACTION\tREASON\n")
	for _, r := range plan.Resources {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Kind, r.Name, r.Action, r.Reason)
	}
	for _, s := range plan.Services {
		fmt.Fprintf(tw, "service\t%s\t%s\t%s\n", s.Service, s.Action, s.Reason)
	}
	for _, o := range plan.Orphans {
		fmt.Fprintf(tw, "orphan\t%s\t%s\t%s (removed with --remove-orphans)\n", o.Name, o.Action, o.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !plan.Changes() {
		fmt.Fprintln(w, "\nNothing to do: the stack is up to date.")
	}
	return nil
}
