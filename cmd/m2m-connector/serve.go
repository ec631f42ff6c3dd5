package main

// Owned by the connector-service work (issue 4): serve, healthcheck, version, exitCode. Placeholder until then.

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func newServeCmd() *cobra.Command {
	return &cobra.Command{Use: "serve", Short: "Run the connector (the default)", RunE: func(*cobra.Command, []string) error {
		return errors.New("serve: not built yet")
	}}
}

func newHealthcheckCmd() *cobra.Command {
	return &cobra.Command{Use: "healthcheck", Short: "Exit 0 when this connector's /health/ready answers 200", RunE: func(*cobra.Command, []string) error {
		return errors.New("healthcheck: not built yet")
	}}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{Use: "version", Short: "Print the version", Run: func(*cobra.Command, []string) {
		fmt.Println(version, commit)
	}}
}

func exitCode(err error) int {
	fmt.Fprintln(os.Stderr, "m2m-connector:", err)
	return 1
}
