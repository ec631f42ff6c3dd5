package main

// Placeholder until its issue builds it.

import (
	"errors"

	"github.com/spf13/cobra"
)

func newCmdUp(io *ioStreams) *cobra.Command {
	return &cobra.Command{Use: "up", Short: "not built yet", RunE: func(*cobra.Command, []string) error {
		return errors.New("up: not built yet")
	}}
}
