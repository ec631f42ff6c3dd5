package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
	"github.com/m2mnet/m2m/upgrade"
)

type upgradeOptions struct {
	io           *ioStreams
	flags        deployFlags
	set          []string
	noBackup     bool
	backupOutput string
	dryRun       bool
	pull         string
	waitTimeout  time.Duration
	ledgerFrom   string
}

func newCmdUpgrade(io *ioStreams, open openTarget) *cobra.Command {
	opts := &upgradeOptions{io: io, flags: deployFlags{open: open}}
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Move the stack to new images, with a backup first and an automatic rollback",
		Long: `upgrade moves the running stack to new images: by default to this m2mctl release's image of every
image setting (CONNECTOR_IMAGE, TIGERBEETLE_IMAGE, PROMETHEUS_IMAGE, GRAFANA_IMAGE, JAEGER_IMAGE); with --set,
only to the images given.

  1. It reads what runs now (each service's image) and prints the change and the plan.
  2. It refuses a TigerBeetle step that TigerBeetle does not support: a release never moves back, and it
     moves forward only from a release the target upgrades from ("Oldest upgradable replica version" in
     TigerBeetle's release notes; m2mctl knows it for the releases it was built with).
  3. It takes a backup ('m2mctl backup'), unless --no-backup.
  4. It recreates the changed services in dependency order, each once its dependencies are healthy, and
     waits until every service is healthy.
  5. If a service does not become healthy, it prints that service's last health check and log lines and
     puts the previous images back (exit 1). TigerBeetle, once healthy on a newer release, stays on it: its
     data file has moved forward; the backup of step 3 is the way back.

The .env then names the images that run, so 'm2mctl up' keeps them: a new image is written as its setting's
value (or, after a rollback, the previous image is, when the .env would otherwise name another). Nothing else
in the .env changes. Run it again and it finds nothing to do.`,
		Example: `  m2mctl upgrade --dry-run
  m2mctl upgrade
  m2mctl upgrade --set CONNECTOR_IMAGE=m2m/connector:0.2.0
  m2mctl upgrade --set TIGERBEETLE_IMAGE=ghcr.io/tigerbeetle/tigerbeetle:0.18.0 --tigerbeetle-upgradable-from 0.17.5`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return upgradeRun(cmd.Context(), opts) },
	}
	opts.flags.register(cmd, true)
	f := cmd.Flags()
	f.StringArrayVar(&opts.set, "set", nil, "move one image setting to IMAGE instead of this release's defaults: SETTING=IMAGE (repeatable)")
	f.BoolVar(&opts.noBackup, "no-backup", false, "do not take a backup first")
	f.StringVar(&opts.backupOutput, "backup-output", "", "where the backup goes (default m2m-backup-PROJECT-UTCTIME.tar)")
	f.BoolVar(&opts.dryRun, "dry-run", false, "print the change and the plan; change nothing")
	f.StringVar(&opts.pull, "pull", deployer.PullMissing, "image pull policy: missing, always or never")
	f.DurationVar(&opts.waitTimeout, "wait-timeout", 5*time.Minute, "how long each of the upgrade and the rollback waits for every service to be healthy")
	f.StringVar(&opts.ledgerFrom, "tigerbeetle-upgradable-from", "", "the new TigerBeetle release's oldest upgradable replica version, from its release notes (for a release this m2mctl does not know)")
	return cmd
}

// imageSettings are the image settings, each with the services that run it (the first one that runs tells
// which image runs now).
var imageSettings = []struct {
	setting  string
	services []string
}{
	{settings.TigerBeetleImage, ledgerServices()},
	{settings.ConnectorImage, []string{settings.ServiceConnector, settings.ServiceDiscovery}},
	{settings.PrometheusImage, []string{settings.ServicePrometheus}},
	{settings.GrafanaImage, []string{settings.ServiceGrafana}},
	{settings.JaegerImage, []string{settings.ServiceJaeger}},
}

// maxReplicas is the most TigerBeetle replicas a stack has (TIGERBEETLE_REPLICA_COUNT: 1, 3 or 6).
const maxReplicas = 6

// ledgerServices are the services that run the TigerBeetle image: one replica, or replicas 0… with their
// format one-shots.
func ledgerServices() []string {
	out := []string{settings.ServiceTigerBeetle, settings.ServiceFormat}
	for i := range maxReplicas {
		out = append(out, stack.ReplicaService(i), stack.ReplicaFormatService(i))
	}
	return out
}

// ledgerReplicas are the long-running ledger services, which an upgrade never takes back to an older release.
func ledgerReplicas() []string {
	out := []string{settings.ServiceTigerBeetle}
	for i := range maxReplicas {
		out = append(out, stack.ReplicaService(i))
	}
	return out
}

func upgradeRun(ctx context.Context, opts *upgradeOptions) error {
	if err := checkPull(opts.pull); err != nil {
		return err
	}
	if opts.waitTimeout <= 0 {
		return usageErrorf("--wait-timeout %s: give a positive duration such as 5m", opts.waitTimeout)
	}
	wanted, err := parseImageSets(opts.set)
	if err != nil {
		return err
	}
	values, err := settings.Load(opts.flags.envFile)
	if err != nil {
		return withMigrateHint(opts.flags.envFile, err)
	}
	printWarnings(opts.io.ErrOut, values)
	current, err := opts.flags.projectFor(ctx, values)
	if err != nil {
		return err
	}
	target, err := opts.flags.open(ctx)
	if err != nil {
		return err
	}
	defer target.Close()
	running, err := runningImages(ctx, target, current.Name)
	if err != nil {
		return err
	}
	// Every service that runs is upgraded, the optional ones too.
	for svc, prof := range map[string]string{settings.ServiceJaeger: stack.ProfileTracing, settings.ServiceDiscovery: stack.ProfileDiscovery} {
		if _, ok := running[svc]; ok && !slices.Contains(opts.flags.profiles, prof) {
			opts.flags.profiles = append(opts.flags.profiles, prof)
		}
	}
	fromValues, toValues := maps.Clone(values), maps.Clone(values)
	for _, is := range imageSettings {
		for _, svc := range is.services {
			if img, ok := running[svc]; ok {
				fromValues[is.setting], toValues[is.setting] = img, img
				break
			}
		}
		if len(wanted) == 0 {
			s, _ := settings.Lookup(is.setting)
			toValues[is.setting] = s.Default
		} else if img, ok := wanted[is.setting]; ok {
			toValues[is.setting] = img
		}
	}
	from, err := opts.flags.projectFor(ctx, fromValues)
	if err != nil {
		return err
	}
	to, err := opts.flags.projectFor(ctx, toValues)
	if err != nil {
		return err
	}
	changes := upgrade.Changes(from, to)
	if len(changes) == 0 {
		fmt.Fprintf(opts.io.ErrOut, "Nothing to upgrade: project %s already runs these images.\n", from.Name)
		return writeImagePins(opts, values, fromValues)
	}
	if err := checkLedgerStep(fromValues, toValues, opts.ledgerFrom); err != nil {
		return err
	}

	dopts := opts.flags.deployOptions(to, opts.pull)
	plan, err := target.Plan(ctx, to, dopts)
	if err != nil {
		return explainDeployError(err)
	}
	printImageChanges(opts.io, fromValues, toValues)
	if err := printPlan(opts.io.Out, plan, "text"); err != nil {
		return err
	}
	if err := missingImages(plan, toValues); err != nil {
		return err
	}
	if opts.dryRun {
		return nil
	}

	backupFile := ""
	if !opts.noBackup {
		backupFile = opts.backupOutput
		if backupFile == "" {
			backupFile = defaultBackupName(from.Name, time.Now())
		}
		if _, err := takeBackup(ctx, opts.io, from, backupFile, backupExtras{}); err != nil {
			return fmt.Errorf("%w; nothing was upgraded (pass --no-backup to upgrade without one)", err)
		}
	}
	if err := prepareProjectDir(opts.io, to.WorkingDir); err != nil {
		return err
	}
	return applyUpgrade(ctx, opts, target, upgradeRequest{values: values, fromValues: fromValues, toValues: toValues,
		from: from, to: to, dopts: dopts, backup: backupFile, changes: changes})
}

// runningImages maps each service of project that has a container to the image it was made from; a project
// with no ledger or connector container is not deployed.
func runningImages(ctx context.Context, target deployer.Target, project string) (map[string]string, error) {
	rows, err := target.Status(ctx, project, nil)
	if err != nil {
		return nil, explainDeployError(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		if r.Container != "" && r.Image != "" {
			out[r.Service] = r.Image
		}
	}
	_, one := out[settings.ServiceTigerBeetle]
	_, first := out[stack.ReplicaService(0)]
	for svc, ok := range map[string]bool{settings.ServiceTigerBeetle: one || first, settings.ServiceConnector: out[settings.ServiceConnector] != ""} {
		if !ok {
			return nil, fmt.Errorf("project %s has no %s container: there is nothing to upgrade. Deploy it with `m2mctl up -p %s` "+
				"(or name the deployed project with -p NAME)", project, svc, project)
		}
	}
	return out, nil
}

// parseImageSets reads --set SETTING=IMAGE values; only image settings may be set, each once.
func parseImageSets(sets []string) (map[string]string, error) {
	out := map[string]string{}
	var names []string
	for _, is := range imageSettings {
		names = append(names, is.setting)
	}
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || v == "" {
			return nil, usageErrorf("--set %q: give SETTING=IMAGE, e.g. --set %s=m2m/connector:0.2.0", kv, settings.ConnectorImage)
		}
		if !slices.Contains(names, k) {
			return nil, usageErrorf("--set %s: upgrade moves images only; the image settings are %s (edit the .env and run `m2mctl up` for the others)",
				k, strings.Join(names, ", "))
		}
		if _, dup := out[k]; dup {
			return nil, usageErrorf("--set %s is given twice", k)
		}
		s, _ := settings.Lookup(k)
		if err := s.Check(v); err != nil {
			return nil, usageErrorf("--set %s=%s: %v", k, v, err)
		}
		out[k] = v
	}
	return out, nil
}

// checkLedgerStep applies TigerBeetle's upgrade rules to a change of TIGERBEETLE_IMAGE.
func checkLedgerStep(from, to settings.Values, oldest string) error {
	err := upgrade.CheckLedgerStep(from[settings.TigerBeetleImage], to[settings.TigerBeetleImage], oldest)
	var se *upgrade.ReleaseStepError
	switch {
	case errors.As(err, &se) && se.Unknown:
		return usageErrorf("refused: %v; then pass it as --tigerbeetle-upgradable-from VERSION. Nothing was changed", err)
	case err != nil:
		return usageErrorf("refused: %v. Nothing was changed; set %s with --set to a release that is a supported step", err, settings.TigerBeetleImage)
	}
	return nil
}

func printImageChanges(io *ioStreams, from, to settings.Values) {
	tw := tabwriter.NewWriter(io.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "SETTING\tRUNS NOW\tUPGRADE TO\n")
	for _, is := range imageSettings {
		if from[is.setting] != to[is.setting] {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", is.setting, from[is.setting], to[is.setting])
		}
	}
	tw.Flush()
	fmt.Fprintln(io.Out)
}

// missingImages fails, before anything stops, when the plan has an image it can neither find nor pull.
func missingImages(plan *deployer.Plan, to settings.Values) error {
	for _, r := range plan.Resources {
		if r.Kind != "image" || r.Action != "missing" {
			continue
		}
		setting := ""
		for _, is := range imageSettings {
			if to[is.setting] == r.Name {
				setting = " (" + is.setting + ")"
			}
		}
		return fmt.Errorf("image %s%s is not on this host and is not pulled (%s): load it (m2mctl images load FILE), "+
			"build it, or run with --pull missing; nothing was changed", r.Name, setting, r.Reason)
	}
	return nil
}
