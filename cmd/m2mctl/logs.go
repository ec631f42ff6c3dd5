package main

import (
	"context"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/m2mnet/m2m/deployer"
)

type logsOptions struct {
	io     *ioStreams
	flags  deployFlags
	follow bool
	tail   string
}

func newCmdLogs(io *ioStreams, open openTarget) *cobra.Command {
	opts := &logsOptions{io: io, flags: deployFlags{open: open}}
	cmd := &cobra.Command{
		Use:   "logs [SERVICE...]",
		Short: "Show the logs of the stack's services",
		Example: `  m2mctl logs connector --tail 50
  m2mctl logs -f`,
		RunE: func(cmd *cobra.Command, args []string) error { return logsRun(cmd.Context(), opts, args) },
	}
	opts.flags.register(cmd, false)
	cmd.Flags().BoolVarP(&opts.follow, "follow", "f", false, "keep following new lines until interrupted")
	cmd.Flags().StringVarP(&opts.tail, "tail", "n", "all", "lines to show from the end of each service's log, or all")
	return cmd
}

func logsRun(ctx context.Context, opts *logsOptions, services []string) error {
	if opts.tail != "all" {
		if n, err := strconv.Atoi(opts.tail); err != nil || n < 0 {
			return usageErrorf("--tail %q: give a number of lines or all", opts.tail)
		}
	}
	target, err := opts.flags.open(ctx)
	if err != nil {
		return err
	}
	defer target.Close()
	return target.Logs(ctx, opts.flags.project, deployer.LogsOptions{
		Services: services, Follow: opts.follow, Tail: opts.tail, Prefix: len(services) != 1,
	}, opts.io.Out)
}
