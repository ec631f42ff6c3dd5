package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"

	"github.com/m2mnet/m2m/backup"
	"github.com/m2mnet/m2m/internal/secretfile"
	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

type backupOptions struct {
	io          *ioStreams
	flags       deployFlags
	output      string
	monitoring  bool
	envPassFile string
}

// backupExtras is what a backup holds beyond the ledger and connector volumes.
type backupExtras struct {
	monitoring bool          // the Prometheus and Grafana volumes, those services stopped too
	files      []backup.File // the sealed .env
}

// sealedEnvName is the .env, encrypted with --env-passphrase-file, inside a backup.
const sealedEnvName = "env.sealed"

func newCmdBackup(io *ioStreams) *cobra.Command {
	opts := &backupOptions{io: io}
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Copy the ledger's data file and the connector's data into one checked archive",
		Long: `backup stops the TigerBeetle ledger and the services that need it (the connector), copies the ledger's
data file and the connector's data volume into one archive, and starts them again at once: TigerBeetle's
guidance is to copy the data file only while the replica is stopped. Prometheus and Grafana keep running,
unless --with-monitoring also copies their volumes (then they are stopped for the copy too).

The archive is a tar with the SHA-256 of every file and the images (TigerBeetle release) it was taken with;
'm2mctl restore' checks both. It is written beside FILE and renamed when complete: an interrupted backup
leaves no half file, and a killed one (kill -9) has a guard process start the stopped services again.

The .env is left out unless --env-passphrase-file names a file holding a passphrase (12 characters or
more): the .env is then stored encrypted with it (scrypt and AES-256-GCM), and 'm2mctl restore
--env-passphrase-file' writes it back on a host that has none.`,
		Example: `  m2mctl backup
  m2mctl backup --output /srv/backups/m2m-$(date +%F).tar
  m2mctl backup --with-monitoring --env-passphrase-file /root/m2m-backup.pass`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return backupRun(cmd.Context(), opts) },
	}
	opts.flags.register(cmd, false)
	cmd.Flags().StringVar(&opts.output, "output", "", "archive to write (default m2m-backup-PROJECT-UTCTIME.tar)")
	cmd.Flags().BoolVar(&opts.monitoring, "with-monitoring", false, "also copy the Prometheus and Grafana volumes (stopping them for the copy)")
	cmd.Flags().StringVar(&opts.envPassFile, "env-passphrase-file", "", "store the .env in the backup, encrypted with the passphrase in this file")
	return cmd
}

// ledgerVolumes are the volumes a backup holds: the ledger's and the connector's.
var ledgerVolumes = []string{stack.VolumeTigerBeetle, stack.VolumeConnector}

func backupRun(ctx context.Context, opts *backupOptions) error {
	project, err := opts.flags.loadProject(ctx)
	if err != nil {
		return err
	}
	out := opts.output
	if out == "" {
		out = defaultBackupName(project.Name, time.Now())
	}
	extras := backupExtras{monitoring: opts.monitoring}
	if opts.envPassFile != "" {
		sealed, err := sealEnv(opts.flags.envFile, opts.envPassFile)
		if err != nil {
			return err
		}
		extras.files = append(extras.files, backup.File{Name: sealedEnvName, Body: sealed})
	}
	_, err = takeBackup(ctx, opts.io, project, out, extras)
	return err
}

// sealEnv encrypts the .env with the passphrase in passFile.
func sealEnv(envFile, passFile string) ([]byte, error) {
	pass, err := os.ReadFile(passFile)
	if err != nil {
		return nil, usageErrorf("--env-passphrase-file %s: %v", passFile, err)
	}
	body, err := os.ReadFile(envFile)
	if err != nil {
		return nil, usageErrorf("--env-file %s: %v", envFile, err)
	}
	sealed, err := secretfile.Seal(pass, body)
	if errors.Is(err, secretfile.ErrShortPassphrase) {
		return nil, usageErrorf("--env-passphrase-file %s: the passphrase is shorter than %d characters; write a longer one", passFile, secretfile.MinPassphrase)
	}
	return sealed, err
}

// takeBackup stops the ledger and its dependents, copies their volumes to out and starts them again, with
// progress on stderr; it prints out on stdout and how long the services were down on stderr.
func takeBackup(ctx context.Context, io *ioStreams, project *types.Project, out string, extras backupExtras) (*backup.Result, error) {
	cli, err := connect(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	if _, one := project.Services[settings.ServiceTigerBeetle]; !one {
		if _, replicas := project.Services[stack.ReplicaService(0)]; replicas {
			return nil, fmt.Errorf("cannot back up project %s: its ledger has several replicas (%s), and backup copies "+
				"a single replica's data file only; back up each replica's volume from a stopped replica by hand for now",
				project.Name, settings.TigerBeetleReplicaCount)
		}
	}
	stop := append(dependents(project, settings.ServiceTigerBeetle), settings.ServiceTigerBeetle)
	volumes := ledgerVolumes
	if extras.monitoring {
		// Each is put before the others: grafana, then prometheus, then the ledger's dependents, are stopped.
		for _, m := range []struct{ service, volume string }{{settings.ServicePrometheus, stack.VolumePrometheus}, {settings.ServiceGrafana, stack.VolumeGrafana}} {
			if _, ok := project.Services[m.service]; ok {
				stop = append([]string{m.service}, stop...)
				volumes = append(slices.Clone(volumes), m.volume)
			}
		}
	}
	fmt.Fprintf(io.ErrOut, "Stopping %v for the copy; they start again as soon as it is done.\n", stop)
	prog := newByteProgress(io, "backing up to "+out)
	start := time.Now()
	bopts := backup.Options{Stop: stop, Volumes: volumes, Files: extras.files}
	guard, gerr := startGuard(io.ErrOut)
	switch {
	case gerr != nil:
		fmt.Fprintf(io.ErrOut, "Note: no guard for this backup (%v): should it be killed, run `m2mctl up`.\n", gerr)
	case guard != nil:
		bopts.Guard = guard
	}
	res, err := backup.Backup(ctx, cli, project, out, bopts, prog.report)
	guard.finish()
	prog.done()
	var nf *backup.ServiceNotFoundError
	switch {
	case errors.As(err, &nf):
		return res, fmt.Errorf("cannot back up: %v; is the stack deployed? See `m2mctl status -p %s` (or pass -p NAME)", err, project.Name)
	case err != nil && res != nil && len(res.Stopped) > 0:
		return res, fmt.Errorf("backup to %s failed: %w (the stopped services %v were started again; check `m2mctl status -p %s`)",
			out, err, res.Stopped, project.Name)
	case err != nil:
		return res, fmt.Errorf("backup to %s failed: %w", out, err)
	}
	fmt.Fprintln(io.Out, out)
	fmt.Fprintf(io.ErrOut, "Backed up %s (%s) to %s in %s; %v were stopped for %s. Restore with: m2mctl restore %s\n",
		project.Name, humanBytes(res.Bytes), out, time.Since(start).Round(100*time.Millisecond), res.Stopped,
		res.Downtime.Round(10*time.Millisecond), out)
	return res, nil
}

// defaultBackupName is m2m-backup-PROJECT-UTCTIME.tar, in the current directory.
func defaultBackupName(project string, now time.Time) string {
	return fmt.Sprintf("m2m-backup-%s-%s.tar", project, now.UTC().Format("20060102T150405Z"))
}

// dependents are the services that depend on service directly, sorted: they cannot work while it is stopped.
func dependents(p *types.Project, service string) []string {
	var out []string
	for name, s := range p.Services {
		if _, ok := s.DependsOn[service]; ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// ledgerSentinel is the file whose presence means the ledger volume holds data.
var ledgerSentinel = path.Base(stack.DataFile)
