package main

// Placeholder until its issue builds it.

import (
	"errors"

	"github.com/spf13/cobra"
)

func newCmdDown(io *ioStreams) *cobra.Command {
	return &cobra.Command{Use: "down", Short: "not built yet", RunE: func(*cobra.Command, []string) error {
		return errors.New("down: not built yet")
	}}
}
