package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/m2mnet/m2m/backup"
	"github.com/m2mnet/m2m/bundle"
	"github.com/m2mnet/m2m/stack/settings"
)

type restoreOptions struct {
	io    *ioStreams
	open  openTarget
	flags deployFlags
	force bool
	noUp  bool
}

func newCmdRestore(io *ioStreams, open openTarget) *cobra.Command {
	opts := &restoreOptions{io: io, open: open}
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Put a backup's ledger and connector data back, then bring the stack up",
		Long: `restore reads FILE whole and checks every file against its checksum and the TigerBeetle release against
the .env's before it writes anything. It writes the ledger and connector volumes of the project (creating
them for a fresh project), then runs 'm2mctl up'.

A ledger volume that already holds a data file is only overwritten with --force, and never while the stack
runs: stop it first with 'm2mctl down' (volumes are kept).`,
		Example: `  m2mctl restore m2m-backup-m2m-20261129T203000Z.tar
  m2mctl down && m2mctl restore --force m2m-backup.tar`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return restoreRun(cmd.Context(), opts, args[0]) },
	}
	opts.flags.register(cmd, false)
	cmd.Flags().BoolVar(&opts.force, "force", false, "overwrite a ledger volume that already holds data")
	cmd.Flags().BoolVar(&opts.noUp, "no-up", false, "restore the volumes only; do not run 'm2mctl up' afterwards")
	return cmd
}

func restoreRun(ctx context.Context, opts *restoreOptions, file string) error {
	project, err := opts.flags.loadProject(ctx)
	if err != nil {
		return err
	}
	cli, err := connect(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	prog := newByteProgress(opts.io, "checking "+file)
	start := time.Now()
	meta, err := backup.Restore(ctx, cli, project, file, backup.RestoreOptions{
		SameImage: []string{settings.ServiceTigerBeetle},
		Sentinel:  map[string]string{ledgerVolumes[0]: ledgerSentinel},
		Force:     opts.force,
	}, prog.report)
	prog.done()
	if err != nil {
		return restoreError(err, file, project.Name)
	}
	fmt.Fprintf(opts.io.ErrOut, "Restored %d volume(s) of project %s (backed up %s) into project %s in %s.\n",
		len(meta.Volumes), meta.Project, meta.Created.Format(time.RFC3339), project.Name, time.Since(start).Round(100*time.Millisecond))
	if opts.noUp {
		fmt.Fprintf(opts.io.ErrOut, "Start the stack with: m2mctl up -p %s\n", project.Name)
		return nil
	}
	up := newCmdUp(opts.io, opts.open)
	up.SetArgs([]string{"-p", project.Name, "--env-file", opts.flags.envFile})
	up.SetIn(opts.io.In)
	up.SetOut(opts.io.Out)
	up.SetErr(opts.io.ErrOut)
	return up.ExecuteContext(ctx)
}

func restoreError(err error, file, project string) error {
	var (
		corrupt *bundle.CorruptError
		full    *backup.NotEmptyError
		running *backup.RunningError
		release *backup.ReleaseMismatchError
	)
	switch {
	case errors.As(err, &corrupt):
		return fmt.Errorf("refused %s: %s. Nothing was written; use another copy of the backup", corrupt.Path, corrupt.Reason)
	case errors.As(err, &full):
		return fmt.Errorf("volume %s already holds a ledger (%s); nothing was written. Pass --force to replace it "+
			"(take a backup of it first), or restore into a new project with -p NAME", full.Volume, full.Path)
	case errors.As(err, &running):
		return fmt.Errorf("service %s of project %s is running; nothing was written. Stop the stack first: "+
			"m2mctl down -p %s (volumes are kept), then restore", running.Service, project, project)
	case errors.As(err, &release):
		return fmt.Errorf("%s was taken with %s, but the .env runs %s; nothing was written. Set %s=%s in the .env "+
			"to restore, then upgrade", file, release.Backup, release.Project, settings.TigerBeetleImage, release.Backup)
	}
	return fmt.Errorf("restore %s: %w", file, err)
}
