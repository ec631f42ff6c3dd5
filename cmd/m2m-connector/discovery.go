package main

// Owned by the peer-discovery work (issue 6). Placeholder until then.

import (
	"errors"

	"github.com/spf13/cobra"
)

func newDiscoveryCmd() *cobra.Command {
	return &cobra.Command{Use: "discovery", Short: "Run the peer discovery registry", RunE: func(*cobra.Command, []string) error {
		return errors.New("discovery: not built yet")
	}}
}
