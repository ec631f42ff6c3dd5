package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/m2mnet/m2m/deployer"
)

type downOptions struct {
	io      *ioStreams
	flags   deployFlags
	timeout time.Duration
	volumes bool
	yes     bool
}

func newCmdDown(io *ioStreams, open openTarget) *cobra.Command {
	opts := &downOptions{io: io, flags: deployFlags{open: open}}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop and remove the stack's containers and network (volumes stay unless --volumes)",
		Long: `down stops the stack's services, dependents first, and removes their containers and the network.
The volumes — the TigerBeetle ledger, connector data, metrics and dashboards — stay, so 'm2mctl up' brings
the same node back. --volumes removes them too, after listing them with their sizes and asking (or --yes).

On a Swarm (DEPLOY_TARGET=swarm) each node keeps its own volumes and a manager's API removes only its
own: --volumes removes the manager's, prints for every other node the 'docker volume rm' to run there,
and exits 1.`,
		Example: `  m2mctl down
  m2mctl down --volumes --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return downRun(cmd.Context(), opts) },
	}
	opts.flags.register(cmd, false)
	cmd.Flags().DurationVarP(&opts.timeout, "timeout", "t", 0, "stop timeout per container before it is killed (default: each service's own, else 10s)")
	cmd.Flags().BoolVarP(&opts.volumes, "volumes", "v", false, "also remove the volumes: the ledger and all data are lost")
	cmd.Flags().BoolVarP(&opts.yes, "yes", "y", false, "do not ask before removing volumes")
	return cmd
}

func downRun(ctx context.Context, opts *downOptions) error {
	target, err := opts.flags.open(ctx)
	if err != nil {
		return err
	}
	defer target.Close()
	if opts.volumes && !opts.yes {
		if err := confirmVolumes(ctx, opts, target); err != nil {
			return err
		}
	}
	prog := newProgress(opts.io, "text")
	down := deployer.DownOptions{Volumes: opts.volumes, Reporter: prog}
	if opts.timeout > 0 {
		secs := int(opts.timeout.Seconds())
		down.Timeout = &secs
	}
	err = target.Down(ctx, opts.flags.project, down)
	prog.stop()
	return explainDeployError(err)
}

func confirmVolumes(ctx context.Context, opts *downOptions, target deployer.Target) error {
	vols, err := target.Volumes(ctx, opts.flags.project)
	if err != nil {
		return err
	}
	if len(vols) == 0 {
		return nil
	}
	if !opts.io.IsInteractive() {
		return usageErrorf("--volumes would delete %d volumes of project %s and nothing can ask you here: add --yes to confirm", len(vols), opts.flags.project)
	}
	fmt.Fprintf(opts.io.ErrOut, "These volumes and everything in them will be deleted, the TigerBeetle ledger included:\n")
	for _, v := range vols {
		size := "size unknown"
		if v.Size >= 0 {
			size = byteSize(v.Size)
		}
		fmt.Fprintf(opts.io.ErrOut, "  %-40s %s\n", v.Name, size)
	}
	fmt.Fprintf(opts.io.ErrOut, "Delete them? Type yes to confirm: ")
	line, _ := bufio.NewReader(opts.io.In).ReadString('\n')
	if strings.TrimSpace(strings.ToLower(line)) != "yes" {
		return fmt.Errorf("volumes kept: nothing was removed")
	}
	return nil
}
