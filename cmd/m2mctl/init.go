package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"

	"github.com/charmbracelet/huh"
	"github.com/spf13/cobra"
)

// initOptions is what `m2mctl init` was asked to do.
type initOptions struct {
	io         *ioStreams
	output     string
	force      bool
	update     bool
	yes        bool
	accessible bool
	answers    map[string]string // question flag → value, for the flags given on the command line
	swarm      swarmFlags
	now        func() time.Time
}

func newCmdInit(io *ioStreams) *cobra.Command {
	opts := &initOptions{io: io, now: time.Now}
	flagValues := map[string]*string{}
	cmd := &cobra.Command{
		Use:     "init",
		Aliases: []string{"setup"},
		Short:   "Answer a few questions and get a correct .env",
		Long: `init writes the .env that 'm2mctl up' deploys: it asks for this node's name, where the stack runs
(this host, or a Docker Swarm across hosts), how it settles (EVM, XRP or both) and to which addresses,
where its signing keys live, and which ports it uses. Every answer is checked as you type it. The
TigerBeetle cluster id, the Grafana admin password and the node's ed25519 identity key are generated,
written to the .env (mode 0600) and never shown.

On a Swarm (--target swarm; 3 TigerBeetle replicas unless --replicas says 1 or 6) init talks to a manager,
the engine DOCKER_HOST names or the default socket. It lists the swarm's nodes by address and ID (never
by hostname, which nodes may share), asks which node holds each replica and which node is the public
edge (the BTP port, the connector and monitoring), writes the replicas' node addresses into
TIGERBEETLE_REPLICA_ADDRESSES, and labels the nodes through the Engine API: io.m2m.tigerbeetle.replica=N
and io.m2m.edge=true, taken off every other node. The defaults keep the labels the nodes have, else put
replica 0 and the edge on this engine's node and the others by address. --no-label prints the
'docker node update' commands instead of running them. A replica's label leaves the node that has it only
with --move-replicas (or your confirmation): that replica's data stays on the old node.

--update starts from the existing file instead of from scratch: its values are the answers offered (and
taken, with --yes), its secrets are not asked again, and the cluster id, Grafana password and identity key
are kept. Change a Swarm's placement with it: a new cluster id would not start the replicas' data files.

On a terminal init shows a form. Without one (or with --accessible) it asks line by line, which also
suits screen readers and answers piped in. Each question has a flag; with --yes nothing is asked,
flags and defaults make the .env, and a missing answer stops init with exit code 2 naming its flag.

Secrets (private keys, cloud credentials) are given as files (--evm-private-key-file …), never typed
on the command line, where they would end up in the shell history.`,
		Example: `  # Answer the questions
  m2mctl init

  # Scripted: XRP settlement, keys in AWS KMS (the instance role gives access)
  m2mctl init --yes --settlement xrp --xrp-address rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh \
    --key-backend aws-kms --aws-region eu-west-1 --aws-kms-xrp-key-id alias/m2m-node

  # Scripted development node: EVM settlement, key in .env, read from a file
  m2mctl init --yes --evm-address 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed \
    --evm-private-key-file ./evm-dev.key --monitoring off

  # Join peer discovery
  m2mctl init --discovery on --discovery-endpoints https://discovery.m2m.network \
    --announce-address wss://node.example.com:4000

  # Three TigerBeetle replicas on a Docker Swarm, run on a manager: the nodes are listed and labelled
  m2mctl init --target swarm

  # The same with the placement given: replica i on a node named by address or ID (prefix), the edge on one
  m2mctl init --target swarm --replica-node 0=10.0.0.11,1=10.0.0.12,2=10.0.0.13 --edge-node 10.0.0.11

  # Label by hand: print the docker node update commands, change no node
  m2mctl init --target swarm --no-label

  # Later: move the edge to another node, keeping everything else (keys, cluster id, replicas)
  m2mctl init --update --yes --edge-node 10.0.0.12

  # Start again: the old .env is kept as .env.bak-<timestamp>
  m2mctl init --force`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.answers = map[string]string{}
			for flag, v := range flagValues {
				if cmd.Flags().Changed(flag) {
					opts.answers[flag] = *v
				}
			}
			opts.swarm.portGiven = cmd.Flags().Changed("replica-port")
			return initRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.output, "output", "o", ".env", "where to write the settings")
	f.BoolVar(&opts.force, "force", false, "replace an existing file, keeping a copy as <file>.bak-<timestamp>")
	f.BoolVar(&opts.update, "update", false, "start from the existing file: its values are the answers offered, its keys, passwords and cluster id are kept (a copy is kept as <file>.bak-<timestamp>)")
	f.BoolVarP(&opts.yes, "yes", "y", false, "ask nothing: take the flags, and defaults for the rest")
	f.BoolVar(&opts.accessible, "accessible", false, "ask line by line even on a terminal (screen readers)")
	for _, q := range questions() {
		flagValues[q.flag] = f.String(q.flag, "", flagUsage(q))
	}
	f.StringSliceVar(&opts.swarm.replicaNodes, "replica-node", nil,
		"with --target swarm: the node of a replica, as REPLICA=NODE (NODE: its ID, a prefix of it, or its address); repeat or separate with commas (default: the nodes' labels, else this engine's node and the others by address)")
	f.StringVar(&opts.swarm.edgeNode, "edge-node", "",
		"with --target swarm: the node that publishes the BTP port and runs the connector and monitoring (default: the node labelled io.m2m.edge=true, else replica 0's)")
	f.IntVar(&opts.swarm.replicaPort, "replica-port", stack.ReplicaPort, "with --target swarm: the port each replica listens on, on its node's address (with --update, the existing file's is kept)")
	f.BoolVar(&opts.swarm.noLabel, "no-label", false, "with --target swarm: print the docker node update commands instead of labelling the nodes")
	f.BoolVar(&opts.swarm.moveReplicas, "move-replicas", false,
		"with --target swarm: allow a replica's label to leave the node that has it (that replica's data stays on the old node)")
	return cmd
}

// flagUsage is the setting's doc, as the wizard shows it.
func flagUsage(q question) string {
	s := q.setting()
	usage := s.Doc
	switch {
	case q.kind == kindSecretFile:
		usage = "file that holds " + s.Name + ": " + s.Doc
	case q.kind == kindYesNo:
		usage += " (on or off)"
	case len(s.Choices) > 0:
		usage += " (" + strings.Join(s.Choices, ", ") + ")"
	}
	switch {
	case q.name == settings.NodeID:
		usage += " (default m2m- and 6 random letters and digits)"
	case q.name == settings.TigerBeetleReplicaCount:
		usage += " (default 1; 3 with --target swarm)"
	case q.kind == kindYesNo && s.Default != "":
		usage += map[string]string{"true": " (default on)", "false": " (default off)"}[normalBool(s.Default)]
	case s.Default != "":
		usage += " (default " + s.Default + ")"
	}
	return usage
}

func initRun(ctx context.Context, opts *initOptions) error {
	var old existing
	if opts.update {
		var err error
		if old, err = readExisting(opts.output, opts.io.ErrOut); err != nil {
			return err
		}
	} else if err := checkWritable(opts.output, opts.force); err != nil {
		if errors.Is(err, errEnvExists) || errors.Is(err, errNoDir) {
			return usageError{err}
		}
		return err
	}
	if p := opts.swarm.replicaPort; p < 1 || p > 65535 {
		return usageErrorf("--replica-port %d: must be a port number 1-65535", p)
	}
	qs := questions()
	a, preset, err := startingAnswers(qs, opts.answers)
	if err != nil {
		return err
	}
	kept := applyExisting(qs, a, preset, old)
	sw := &swarmSetup{flags: opts.swarm, project: cmp.Or(old[settings.ProjectName], a.values().String(settings.ProjectName))}
	if !sw.flags.portGiven {
		sw.flags.replicaPort = existingReplicaPort(old, sw.flags.replicaPort)
	}
	defer sw.close()
	if err := answer(ctx, opts, qs, a, preset, kept, sw); err != nil {
		return err
	}
	for _, q := range qs {
		if preset[q.name] && !q.applies(a) {
			fmt.Fprintf(opts.io.ErrOut, "note: --%s is not used with these answers (it is not written)\n", q.flag)
		}
	}
	if !onSwarm(a) {
		for _, flag := range opts.swarm.given() {
			fmt.Fprintf(opts.io.ErrOut, "note: %s is not used with %s=%s\n", flag, settings.DeployTarget, a.get(settings.DeployTarget))
		}
	}
	if a.get(settings.KeyBackend) == "env" && (preset[settings.KeyBackend] || opts.yes) {
		// The wizard shows the warning when it asks for the backend; a flag or --yes skips that.
		fmt.Fprintf(opts.io.ErrOut, "WARNING: %s\n", envBackendWarning)
	}
	if w := replicaCountWarning(old, a.get(settings.TigerBeetleReplicaCount)); opts.update && w != "" {
		fmt.Fprintf(opts.io.ErrOut, "WARNING: %s\n", w)
	}

	gen, err := generate()
	if err != nil {
		return err
	}
	if err := keepGenerated(&gen, old); err != nil {
		return err
	}
	values, err := finalValues(qs, a, gen)
	if err != nil {
		return usageError{err}
	}
	if opts.update {
		values = mergeExisting(qs, a, old, kept, values, opts.io.ErrOut)
	}
	if onSwarm(a) {
		values[settings.TigerBeetleReplicaAddresses] = replicaAddresses(sw.nodes, sw.p, sw.flags.replicaPort)
	}
	parsed, err := settings.Parse(values)
	if err != nil {
		return usageError{fmt.Errorf("%w\nnothing was written", withFlags(qs, err))}
	}
	backup, err := writeEnvFile(opts.output, settings.RenderEnv(values), opts.force || opts.update, opts.now())
	if err != nil {
		return err
	}
	if err := prepareProjectDir(opts.io, filepath.Dir(opts.output)); err != nil {
		return err
	}
	printWritten(opts, parsed, gen, backup, sw)
	if onSwarm(a) {
		if err := sw.label(ctx, opts.io.Out); err != nil {
			return err
		}
	}
	printNextSteps(opts, parsed, sw)
	return nil
}

// answer completes the answers: from flags and defaults alone with --yes, else by asking. kept are secrets
// that --update keeps: answered, and not asked again.
func answer(ctx context.Context, opts *initOptions, qs []question, a answers, preset, kept map[string]bool, sw *swarmSetup) error {
	if opts.yes {
		applyFollows(qs, a, preset, map[string]string{})
		if err := checkScripted(qs, a, kept); err != nil {
			return err
		}
		if !onSwarm(a) {
			return nil
		}
		if err := sw.connect(ctx); err != nil {
			return err
		}
		n := settings.Values{settings.TigerBeetleReplicaCount: a.get(settings.TigerBeetleReplicaCount)}.ReplicaCount()
		return sw.place(n, opts.io.ErrOut)
	}
	if onSwarm(a) { // --target swarm (or the existing file's): find out before any question whether the manager answers
		if err := sw.connect(ctx); err != nil {
			return err
		}
	}
	notAsked := maps.Clone(preset)
	maps.Copy(notAsked, kept)
	return runWizard(ctx, opts, qs, a, notAsked, kept, sw)
}

// startingAnswers fills every question with its flag's value, or else its default (a fresh node id for
// NODE_ID). Flag values are checked here, all at once, so a script learns every mistake in one run.
func startingAnswers(qs []question, flags map[string]string) (answers, map[string]bool, error) {
	a := answers{}
	preset := map[string]bool{}
	for _, q := range qs {
		if v, ok := flags[q.flag]; ok {
			if q.kind == kindYesNo {
				v = normalBool(v)
			}
			a.set(q.name, strings.TrimSpace(v))
			preset[q.name] = true
			continue
		}
		a.set(q.name, q.setting().Default)
	}
	if !preset[settings.NodeID] {
		id, err := newNodeID()
		if err != nil {
			return nil, nil, err
		}
		a.set(settings.NodeID, id)
	}
	var bad []string
	for _, q := range qs {
		if !preset[q.name] || !q.applies(a) {
			continue
		}
		if err := q.check(a, a.get(q.name)); err != nil {
			if q.kind == kindSecretFile { // the error names the file; the secret is never shown
				bad = append(bad, fmt.Sprintf("--%s: %v", q.flag, err))
				continue
			}
			bad = append(bad, fmt.Sprintf("--%s %q: %v", q.flag, a.get(q.name), err))
		}
	}
	if len(bad) > 0 {
		return nil, nil, usageErrorf("bad flag values; nothing was written:\n  %s", strings.Join(bad, "\n  "))
	}
	return a, preset, nil
}

// checkScripted names every flag still needed when nothing may be asked; kept secrets are answered.
func checkScripted(qs []question, a answers, kept map[string]bool) error {
	var missing []string
	for _, q := range qs {
		if q.applies(a) && a.get(q.name) == "" && !kept[q.name] && q.required(a) {
			missing = append(missing, fmt.Sprintf("--%s (%s: %s)", q.flag, q.name, q.setting().Doc))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return usageErrorf("with --yes nothing is asked, and these flags are missing; nothing was written:\n  %s",
		strings.Join(missing, "\n  "))
}

func runWizard(ctx context.Context, opts *initOptions, qs []question, a answers, preset, kept map[string]bool, sw *swarmSetup) error {
	w := &wizard{qs: qs, a: a, preset: preset, kept: kept, output: opts.output, out: opts.io.ErrOut, theme: huh.ThemeCharm(), swarm: sw}
	if opts.io.noColor {
		w.theme = huh.ThemeBase()
		w.plain = true
	}
	if opts.accessible || !opts.io.IsInteractive() || os.Getenv("TERM") == "dumb" {
		w.accessible = true
		w.in = newLineReader(opts.io.In)
		// A blocked read of stdin cannot be interrupted; let Ctrl-C end the command all the same.
		out := &detachableWriter{w: opts.io.ErrOut}
		w.out = out
		done := make(chan error, 1)
		go func() { done <- w.run(ctx) }()
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			out.detach()
			return errAborted
		}
	}
	w.in = opts.io.In
	return w.run(ctx)
}

// finalValues are what goes into the .env: the answers that apply (secrets read from their files) and the
// generated values. What the operator was asked is written even when it is the default, so a later release
// with other defaults cannot move a node's ports or settlement; settings never asked stay commented out.
func finalValues(qs []question, a answers, gen generated) (map[string]string, error) {
	values := map[string]string{}
	for _, q := range qs {
		v := a.get(q.name)
		if !q.applies(a) || v == "" {
			continue
		}
		if q.kind == kindSecretFile {
			secret, err := readSecretFile(q.setting(), v)
			if err != nil {
				return nil, err
			}
			v = secret
		}
		values[q.name] = v
	}
	for k, v := range gen.values {
		values[k] = v
	}
	return values, nil
}

// withFlags adds, to each problem of the final check, the flag that answers it.
func withFlags(qs []question, err error) error {
	var ps *settings.Problems
	if !errors.As(err, &ps) {
		return err
	}
	flags := map[string]string{}
	for _, q := range qs {
		flags[q.name] = q.flag
	}
	for i, p := range ps.List {
		if f, ok := flags[p.Key]; ok {
			ps.List[i].Msg += " (flag --" + f + ")"
		}
	}
	return ps
}
