package main

// Placeholder until its issue builds it.

import (
	"errors"

	"github.com/spf13/cobra"
)

func newCmdPlan(io *ioStreams) *cobra.Command {
	return &cobra.Command{Use: "plan", Short: "not built yet", RunE: func(*cobra.Command, []string) error {
		return errors.New("plan: not built yet")
	}}
}
