package main

// Placeholder until its issue builds it.

import (
	"errors"

	"github.com/spf13/cobra"
)

func newCmdInit(io *ioStreams) *cobra.Command {
	return &cobra.Command{Use: "init", Short: "not built yet", RunE: func(*cobra.Command, []string) error {
		return errors.New("init: not built yet")
	}}
}
