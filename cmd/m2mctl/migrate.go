package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/spf13/cobra"

	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

type migrateOptions struct {
	io      *ioStreams
	from    string
	envFile string
	project string
	dryRun  bool
}

func newCmdMigrate(io *ioStreams) *cobra.Command {
	opts := &migrateOptions{io: io}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Turn the TypeScript connector stack's .env into an m2m .env that keeps its volumes and ledger",
		Long: `migrate reads the .env of the TypeScript connector's production stack and writes an m2m .env:
every setting under its m2m name, a strong Grafana password in place of the template's admin, the
Compose project name of the original stack (so 'm2mctl up' adopts its volumes instead of making empty
ones) and TIGERBEETLE_CLUSTER_ID read from the existing ledger's data file through the Docker engine —
never a new id over an existing ledger. The old file is kept as a backup next to the new one.`,
		Example: `  # in the directory of the original docker-compose-production.yml and .env
  m2mctl migrate --dry-run
  m2mctl migrate

  # the original's .env elsewhere, its Compose project named explicitly
  m2mctl migrate --from ../connector/.env --project connector`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return migrateRun(cmd.Context(), opts) },
	}
	f := cmd.Flags()
	f.StringVar(&opts.from, "from", ".env", "the TypeScript stack's .env")
	f.StringVar(&opts.envFile, "env-file", ".env", "where to write the m2m .env (an existing file is kept as FILE.bak-<timestamp>)")
	f.StringVar(&opts.project, "project", "", "the original stack's Compose project name (default: its directory's name, as Compose names it)")
	f.BoolVar(&opts.dryRun, "dry-run", false, "say what would be written and write nothing")
	return cmd
}

func migrateRun(ctx context.Context, opts *migrateOptions) error {
	data, err := os.ReadFile(opts.from)
	if errors.Is(err, fs.ErrNotExist) {
		return usageErrorf("--from %s: no such file; give the path of the TypeScript stack's .env", opts.from)
	} else if err != nil {
		return fmt.Errorf("read %s: %w", opts.from, err)
	}
	raw, problems := settings.ReadRaw(bytes.NewReader(data))
	if len(problems) > 0 {
		return usageError{&settings.Problems{Source: opts.from, List: problems}}
	}
	for _, e := range raw {
		if e.Key == settings.TigerBeetleClusterID || e.Key == settings.ProjectName {
			return usageErrorf("%s is an m2m .env already (line %d sets %s): nothing to migrate; check it with `m2mctl config --env-file %s`",
				opts.from, e.Line, e.Key, opts.from)
		}
	}
	m, err := mapOriginal(raw)
	if err != nil {
		return usageErrorf("%s: %v", opts.from, err)
	}
	project, err := originalProject(opts)
	if err != nil {
		return err
	}
	gen, err := generate()
	if err != nil {
		return err
	}
	v := m.values
	v[settings.ProjectName] = project
	if _, set := v[settings.GrafanaPort]; !set {
		v[settings.GrafanaPort] = originalGrafanaPort
	}
	weak := weakGrafanaPassword(v[settings.GrafanaPassword])
	if weak != "" {
		v[settings.GrafanaPassword] = gen.values[settings.GrafanaPassword]
	}
	madeKey := v[settings.NodePrivateKey] == ""
	if madeKey {
		v[settings.NodePrivateKey] = gen.values[settings.NodePrivateKey]
	}
	orig, err := lookAtOriginal(ctx, project, v)
	if err != nil {
		return err
	}
	v[settings.TigerBeetleClusterID] = gen.values[settings.TigerBeetleClusterID]
	if orig.ledger {
		v[settings.TigerBeetleClusterID] = orig.cluster
	}
	if _, err := settings.Parse(v); err != nil {
		return problemsInOriginal(err, opts.from, m)
	}
	r := migrateReport{out: opts.io.ErrOut, opts: opts, m: m, v: v, orig: orig, project: project, weakPassword: weak, madeKey: madeKey}
	r.print()
	if opts.dryRun {
		fmt.Fprintf(opts.io.ErrOut, "Dry run: nothing was written.\n")
		return nil
	}
	backup, err := writeEnvFile(opts.envFile, settings.RenderEnv(v), true, time.Now())
	if err != nil {
		return err
	}
	r.done(backup)
	return nil
}

// originalProject is --project, or what Compose named the original stack: its directory's name, normalized.
func originalProject(opts *migrateOptions) (string, error) {
	name := opts.project
	if name == "" {
		dir, err := filepath.Abs(filepath.Dir(opts.from))
		if err != nil {
			return "", err
		}
		name = loader.NormalizeProjectName(filepath.Base(dir))
	}
	s, _ := settings.Lookup(settings.ProjectName)
	if err := s.Check(name); err != nil {
		return "", usageErrorf("--project %q: %v", name, err)
	}
	return name, nil
}

// lookAtOriginal asks the engine what the original stack left: its volumes and its ledger.
func lookAtOriginal(ctx context.Context, project string, v map[string]string) (originalStack, error) {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cli, err := connect(cctx)
	if err != nil {
		return originalStack{}, fmt.Errorf("%w\nm2mctl migrate reads the original stack's ledger through the Docker engine, so that an existing "+
			"ledger never gets a new cluster id: run it on the original stack's host, with Docker running", err)
	}
	defer cli.Close()
	s, _ := settings.Lookup(settings.TigerBeetleImage)
	return inspectOriginal(cctx, cli, project, cmp.Or(v[settings.TigerBeetleImage], s.Default))
}

// migrateReport says what migrate did with every key, on stderr.
type migrateReport struct {
	out          io.Writer
	opts         *migrateOptions
	m            mapped
	v            map[string]string
	orig         originalStack
	project      string
	weakPassword string
	madeKey      bool
}

func (r migrateReport) print() {
	w := r.out
	fmt.Fprintf(w, "Migrating %s (the TypeScript stack's settings) to an m2m .env at %s:\n", r.opts.from, r.opts.envFile)
	var same, renamed, empty []string
	for _, k := range r.m.keys {
		switch {
		case k.to == settings.GrafanaPassword && r.weakPassword != "":
			continue // said below
		case r.m.values[k.to] == "":
			empty = append(empty, k.from)
		case k.from == k.to:
			same = append(same, k.from)
		default:
			renamed = append(renamed, k.from+" → "+k.to)
		}
	}
	if len(same) > 0 {
		fmt.Fprintf(w, "  kept under the same name: %s\n", strings.Join(same, ", "))
	}
	if len(renamed) > 0 {
		fmt.Fprintf(w, "  renamed: %s\n", strings.Join(renamed, ", "))
	}
	if len(empty) > 0 {
		fmt.Fprintf(w, "  empty, so m2m's default applies (or nothing, for a key of another backend): %s\n", strings.Join(empty, ", "))
	}
	for _, k := range r.m.notCarry {
		fmt.Fprintf(w, "  not carried: %s (line %d) is not an m2m setting; it stays in the backup\n", k.from, k.line)
	}
	if r.weakPassword != "" {
		fmt.Fprintf(w, "  GRAFANA_PASSWORD %s: a new random password was generated and written to the .env\n", r.weakPassword)
		if vol, ok := r.orig.volumes[stack.VolumeGrafana]; ok {
			fmt.Fprintf(w, "    Grafana keeps the admin password stored in volume %s until you change it in Grafana (the new one applies to a new Grafana)\n", vol)
		}
	}
	if r.v[settings.GrafanaPort] == originalGrafanaPort {
		fmt.Fprintf(w, "  GRAFANA_PORT=%s: Grafana stays on host port %s, as in the original stack (m2m's own default is 3000); m2m binds it to 127.0.0.1\n",
			originalGrafanaPort, originalGrafanaPort)
	}
	r.printLedger()
	if r.madeKey {
		fmt.Fprintf(w, "  NODE_PRIVATE_KEY: made (the node's identity for peer discovery)\n")
	}
}

func (r migrateReport) printLedger() {
	w := r.out
	var adopted []string
	for _, key := range []string{stack.VolumeTigerBeetle, stack.VolumeConnector, stack.VolumeLogs, stack.VolumePrometheus, stack.VolumeGrafana} {
		if name, ok := r.orig.volumes[key]; ok {
			adopted = append(adopted, name)
		}
	}
	if len(adopted) > 0 {
		fmt.Fprintf(w, "  COMPOSE_PROJECT_NAME=%s: m2mctl up keeps the original's volumes %s\n", r.project, strings.Join(adopted, ", "))
	} else {
		fmt.Fprintf(w, "  COMPOSE_PROJECT_NAME=%s: the engine has no volumes of project %s; m2mctl up will make new ones (pass --project if the original had another name)\n",
			r.project, r.project)
	}
	cluster := r.v[settings.TigerBeetleClusterID]
	if !r.orig.ledger {
		fmt.Fprintf(w, "  TIGERBEETLE_CLUSTER_ID: a new random id: no ledger data file was found in project %s\n", r.project)
		return
	}
	fmt.Fprintf(w, "  TIGERBEETLE_CLUSTER_ID=%s: %s; m2mctl up keeps the data file and does not format it\n", cluster, r.orig.source)
	if cluster == "0" {
		fmt.Fprintf(w, "  warning: cluster id 0 is kept because the existing ledger was formatted with it; a new ledger is better off with a random id\n")
	}
}

func (r migrateReport) done(backup string) {
	w := r.out
	fmt.Fprintf(w, "Wrote %s (mode 0600).", r.opts.envFile)
	if backup != "" {
		fmt.Fprintf(w, " The file it replaced is kept as %s.", backup)
	}
	fmt.Fprintf(w, "\nNext: `m2mctl config` to check it; stop the original stack keeping its volumes (docker compose down, without -v); then `m2mctl up`.\n")
}
