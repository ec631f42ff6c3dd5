// Command m2mctl sets up, deploys and watches an m2m Interledger connector node: `init` writes the .env,
// `config` prints the stack as Compose YAML, and `plan`/`up`/`status`/`logs`/`down` drive the Docker Engine API.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/m2mnet/m2m/deployer"
)

// Set at link time: -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = "unknown"
)

// Exit codes: 0 success, 1 the operation failed, 2 the command line or configuration was wrong.
const (
	exitFailed = 1
	exitUsage  = 2
)

// usageError marks an error that is the caller's to fix (bad flag, bad .env); it exits 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// exitError carries an exit code chosen by the command (status uses 1 for "not all healthy") without a message.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	if os.Getenv("GOGC") == "" {
		// A run is short and its live heap small: collecting at 5× it rather than 2× spares loading the stack
		// (the Compose loader's garbage) a collection or two, a third of that load's time.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, systemStreams(), os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, io *ioStreams, args []string) int {
	choice := &targetChoice{engine: openEngine}
	root := newRootCmd(io, choice.open)
	root.PersistentPreRunE = choice.preRun
	root.SetArgs(args)
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(io.ErrOut, "m2mctl:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailed
}

// openTarget makes the deployment target that plan, up, status, logs and down work on. The command closes it.
type openTarget func(ctx context.Context) (deployer.Target, error)

// openEngine is the Docker Engine on this host (DOCKER_HOST or the default socket), with a bounded wait;
// its error is one line with the fix.
func openEngine(ctx context.Context) (deployer.Target, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return deployer.Open(cctx)
}

// newRootCmd builds the command tree; open is where the deploy commands get their target.
func newRootCmd(io *ioStreams, open openTarget) *cobra.Command {
	root := &cobra.Command{
		Use:   "m2mctl",
		Short: "Set up, deploy and watch an m2m Interledger connector node",
		Long: `m2mctl takes a Linux host with Docker to a running, monitored, peered Interledger connector node.

  m2mctl init      answer a few questions, get a correct .env
  m2mctl up        deploy the stack (connector, TigerBeetle, Prometheus, Grafana)
  m2mctl status    see what runs and whether it is healthy

The stack is a Compose project: 'm2mctl config' prints it as YAML that 'docker compose' accepts too.`,
		Version:       version + " (" + commit + ")",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentPreRunE = projectFromEnvFile
	root.AddCommand(
		newCmdInit(io),
		newCmdConfig(io),
		newCmdPlan(io, open),
		newCmdUp(io, open),
		newCmdStatus(io, open),
		newCmdLogs(io, open),
		newCmdDown(io, open),
		newCmdMigrate(io),
		newCmdImages(io),
		newCmdBackup(io),
		newCmdRestore(io, open),
		newCmdUpgrade(io, open),
		newCmdBackupGuard(io),
	)
	return root
}

// explainDeployError says, for the deployer's typed errors, which flag or setting changes the outcome.
func explainDeployError(err error) error {
	var (
		wait    *deployer.WaitTimeoutError
		port    *deployer.PortInUseError
		missing *deployer.ImageMissingError
		pull    *deployer.PullError
	)
	switch {
	case err == nil:
		return nil
	case isSwarmError(err):
		return explainSwarmError(err)
	case errors.As(err, &wait):
		return fmt.Errorf("services not ready after --wait-timeout %s: %s; see 'm2mctl status' and 'm2mctl logs'",
			wait.Timeout, strings.Join(wait.Pending, ", "))
	case errors.As(err, &port):
		if port.Setting != "" {
			return fmt.Errorf("port %s is already in use on %s (service %s); set %s in .env to a free port",
				port.Port, port.HostIP, port.Service, port.Setting)
		}
		return fmt.Errorf("%s; publish service %s on another host port", port.Error(), port.Service)
	case errors.As(err, &missing) && missing.Hint == "":
		return fmt.Errorf("image %s is not on this host and --pull never forbids pulling it: "+
			"load it (`m2mctl images load FILE`, FILE written by `m2mctl images save FILE` where it is), build it, "+
			"or run with --pull missing", missing.Image)
	case errors.As(err, &pull):
		return fmt.Errorf("pull %s failed: %s; check that this host reaches the registry (proxy, DNS, login), "+
			"or bring the stack's images on a file: `m2mctl images save FILE` on a host that has them, "+
			"`m2mctl images load FILE` here, then run with --pull never", pull.Image, firstLine(pull.Err.Error()))
	}
	return err
}
