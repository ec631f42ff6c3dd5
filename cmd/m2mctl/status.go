package main

// Placeholder until its issue builds it.

import (
	"errors"

	"github.com/spf13/cobra"
)

func newCmdStatus(io *ioStreams) *cobra.Command {
	return &cobra.Command{Use: "status", Short: "not built yet", RunE: func(*cobra.Command, []string) error {
		return errors.New("status: not built yet")
	}}
}
