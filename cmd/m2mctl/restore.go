package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/m2mnet/m2m/backup"
	"github.com/m2mnet/m2m/bundle"
	"github.com/m2mnet/m2m/internal/atomicfile"
	"github.com/m2mnet/m2m/internal/secretfile"
	"github.com/m2mnet/m2m/stack/settings"
)

type restoreOptions struct {
	io          *ioStreams
	open        openTarget
	flags       deployFlags
	force       bool
	noUp        bool
	envPassFile string
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
runs: stop it first with 'm2mctl down' (volumes are kept).

With --env-passphrase-file, a .env stored in the backup ('m2mctl backup --env-passphrase-file') is decrypted
and written to --env-file when there is none yet (an existing .env is never replaced).`,
		Example: `  m2mctl restore m2m-backup-m2m-20261129T203000Z.tar
  m2mctl down && m2mctl restore --force m2m-backup.tar`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return restoreRun(cmd.Context(), opts, args[0]) },
	}
	opts.flags.register(cmd, false)
	cmd.Flags().BoolVar(&opts.force, "force", false, "overwrite a ledger volume that already holds data")
	cmd.Flags().BoolVar(&opts.noUp, "no-up", false, "restore the volumes only; do not run 'm2mctl up' afterwards")
	cmd.Flags().StringVar(&opts.envPassFile, "env-passphrase-file", "", "write the backup's encrypted .env to --env-file, when that file does not exist, with the passphrase in this file")
	return cmd
}

func restoreRun(ctx context.Context, opts *restoreOptions, file string) error {
	if opts.envPassFile != "" {
		if err := restoreEnv(opts, file); err != nil {
			return err
		}
	}
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

// restoreEnv writes the backup's sealed .env to --env-file when that file does not exist.
func restoreEnv(opts *restoreOptions, file string) error {
	if _, err := os.Stat(opts.flags.envFile); err == nil {
		fmt.Fprintf(opts.io.ErrOut, "Kept the existing %s; the backup's .env was not written.\n", opts.flags.envFile)
		return nil
	}
	pass, err := os.ReadFile(opts.envPassFile)
	if err != nil {
		return usageErrorf("--env-passphrase-file %s: %v", opts.envPassFile, err)
	}
	sealed, ok, err := backup.ReadFile(file, sealedEnvName)
	switch {
	case err != nil:
		return restoreError(err, file, opts.flags.project)
	case !ok:
		return fmt.Errorf("%s holds no .env (it was taken without --env-passphrase-file); put the node's .env at %s and restore again",
			file, opts.flags.envFile)
	}
	body, err := secretfile.Open(pass, sealed)
	if err != nil {
		return fmt.Errorf("the .env in %s: %w; give the passphrase it was taken with in --env-passphrase-file", file, err)
	}
	if err := atomicfile.Write(opts.flags.envFile, body, 0o600); err != nil && !errors.Is(err, atomicfile.ErrNotDurable) {
		return err
	}
	fmt.Fprintf(opts.io.ErrOut, "Wrote %s from the backup (mode 0600).\n", opts.flags.envFile)
	return nil
}
