package main

import (
	"errors"
	"fmt"
	goio "io"
	"net/url"
	"os"

	"github.com/m2mnet/m2m/connector/discovery"
	"github.com/m2mnet/m2m/internal/xrpseed"
	"github.com/m2mnet/m2m/stack/settings"

	"github.com/spf13/cobra"

	"github.com/m2mnet/m2m/stack"
)

type configOptions struct {
	io       *ioStreams
	envFile  string
	output   string
	profiles []string
	target   string // compose or swarm; "" takes DEPLOY_TARGET
	// envFileSet is true when --env-file was given: then a missing file is an error, not "use the defaults".
	envFileSet bool
}

func newCmdConfig(io *ioStreams) *cobra.Command {
	opts := &configOptions{io: io}
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check the .env and print the stack as canonical Compose YAML",
		Long: `Check every setting in the .env at once, then print the stack as canonical Compose YAML.

The YAML never holds a secret: values are ${VAR} references that Compose resolves from the .env, so
'docker compose up -d' on it gives the same stack as 'm2mctl up'. Without a .env the stack is shown
with every setting at its default (this is docker-compose-production.yml).`,
		Example: `  # check .env and see the stack
  m2mctl config

  # include the optional Jaeger service, as JSON
  m2mctl config --profile tracing -o json

  # deploy with plain Compose instead of m2mctl
  m2mctl config > docker-compose.yml && docker compose up -d --wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.envFileSet = cmd.Flags().Changed("env-file")
			return configRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.envFile, "env-file", ".env", "settings file to check and build from")
	cmd.Flags().StringVarP(&opts.output, "output", "o", "yaml", "output format: yaml or json")
	cmd.Flags().StringVar(&opts.target, "target", "", "compose (Compose YAML) or swarm (a stack file for docker stack deploy); default DEPLOY_TARGET")
	cmd.Flags().StringArrayVar(&opts.profiles, "profile", nil, "enable an optional service profile: tracing, discovery (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"yaml", "json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("profile", cobra.FixedCompletions([]string{stack.ProfileTracing, stack.ProfileDiscovery}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func configRun(opts *configOptions) error {
	if opts.output != "yaml" && opts.output != "json" {
		return usageErrorf("--output %q: use yaml or json", opts.output)
	}
	for _, p := range opts.profiles {
		if p != stack.ProfileTracing && p != stack.ProfileDiscovery {
			return usageErrorf("--profile %q: the stack's profiles are %s and %s", p, stack.ProfileTracing, stack.ProfileDiscovery)
		}
	}
	if opts.target != "" && opts.target != settings.TargetCompose && opts.target != settings.TargetSwarm {
		return usageErrorf("--target %q: use %s or %s", opts.target, settings.TargetCompose, settings.TargetSwarm)
	}
	values, err := loadSettings(opts.io, opts.envFile, opts.envFileSet)
	if err != nil {
		return err
	}
	if swarmTarget(opts.target, values) {
		return configSwarm(opts, values)
	}
	// Without --profile the whole file is shown, optional services with their profiles, as checked in.
	project := stack.Build(values)
	if len(opts.profiles) > 0 {
		if project, err = project.WithProfiles(opts.profiles); err != nil {
			return fmt.Errorf("enable profiles %v: %w", opts.profiles, err)
		}
	}
	return writeStack(opts, project, stack.YAML)
}

// loadSettings reads and checks the .env. Without one (and without --env-file) the defaults are used, and the
// operator is told so on stderr.
func loadSettings(io *ioStreams, path string, explicit bool) (settings.Values, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && !explicit {
		fmt.Fprintf(io.ErrOut, "no %s here: showing the stack with default settings (run `m2mctl init` to write one)\n", path)
		return settings.Defaults(), nil
	}
	v, notices, err := settings.LoadWithNotices(path)
	for _, n := range notices {
		fmt.Fprintf(io.ErrOut, "note: %s\n", n)
	}
	if err == nil {
		fmt.Fprintf(io.ErrOut, "note: %s\n", signingInactive)
		printWarnings(io.ErrOut, v)
	}
	return v, withMigrateHint(path, err)
}

// printWarnings prints what the settings allow but an operator most likely did not mean.
func printWarnings(w goio.Writer, v settings.Values) {
	for _, msg := range []string{xrpSeedMismatch(v), plainPublicAnnounce(v)} {
		if msg != "" {
			fmt.Fprintf(w, "warning: %s\n", msg)
		}
	}
}

// plainPublicAnnounce says when the node announces a public ws:// address with TLS off: peers would send
// payments and auth tokens in clear text over the internet. A wss:// announce with TLS off is a TLS proxy's.
func plainPublicAnnounce(v settings.Values) string {
	addr := v.String(settings.PeerAnnounceAddress)
	u, err := url.Parse(addr)
	if v.String(settings.BTPTLS) != "off" || err != nil || u.Scheme != "ws" || discovery.CheckEndpointHost(u.Hostname()) != nil {
		return ""
	}
	return fmt.Sprintf("%s=%s is public and %s=off: BTP, which carries payments and auth tokens, would cross the internet in clear text; "+
		"set %s=acme and %s=%s (and announce wss://), or announce the wss:// address of a TLS proxy in front of the node",
		settings.PeerAnnounceAddress, addr, settings.BTPTLS, settings.BTPTLS, settings.BTPDomain, u.Hostname())
}

// xrpSeedMismatch says when XRP_SECRET controls another account than XRP_ADDRESS: settlement would sign for
// an account that is not the one announced. It names the derived address (public), never the seed.
func xrpSeedMismatch(v settings.Values) string {
	seed, addr := v.String(settings.XRPSecret), v.String(settings.XRPAddress)
	if seed == "" || addr == "" {
		return ""
	}
	derived, err := xrpseed.ClassicAddress(seed)
	if err != nil || derived == addr {
		return "" // a malformed seed is a problem the validation already reported
	}
	return fmt.Sprintf("%s derives the XRP account %s, not %s=%s: check that both come from the same wallet", settings.XRPSecret, derived, settings.XRPAddress, addr)
}
