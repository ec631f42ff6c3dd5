package main

// Placeholder until its issue builds it.

import (
	"errors"

	"github.com/spf13/cobra"
)

func newCmdLogs(io *ioStreams) *cobra.Command {
	return &cobra.Command{Use: "logs", Short: "not built yet", RunE: func(*cobra.Command, []string) error {
		return errors.New("logs: not built yet")
	}}
}
