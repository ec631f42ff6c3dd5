// Command m2m-connector is the Interledger connector that the m2m stack runs: ILPv4 over BTP, balances in
// TigerBeetle, health and Prometheus metrics, and (as `m2m-connector discovery`) the peer discovery registry.
package main

import (
	"os"

	"github.com/spf13/cobra"
)

// Set at link time: -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		return exitCode(err)
	}
	return 0
}

func newRootCmd() *cobra.Command {
	serve := newServeCmd()
	root := &cobra.Command{
		Use:           "m2m-connector",
		Short:         "Interledger (ILPv4) connector for the m2m machine-to-machine payment network",
		Version:       version + " (" + commit + ")",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		// With no subcommand the connector serves, so the image's entrypoint needs no arguments.
		RunE: serve.RunE,
	}
	root.AddCommand(serve, newHealthcheckCmd(), newVersionCmd(), newDiscoveryCmd())
	return root
}
