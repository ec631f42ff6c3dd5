package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/templates"
)

// prepareProjectDir makes the directory holding the .env ready for the stack's bind mounts, for m2mctl and for
// plain `docker compose` alike: the monitoring files (Prometheus configuration and rules, Grafana provisioning
// and dashboards) under templates/ when they are missing, and an empty config/ for the operator's peers file.
// Files already there are the operator's and are left alone; one that differs from this release's is noted.
func prepareProjectDir(io *ioStreams, dir string) error {
	written, err := templates.Materialize(dir)
	if err != nil {
		return fmt.Errorf("write the monitoring templates under %s: %w", dir, err)
	}
	created, differ := 0, 0
	for _, w := range written {
		switch {
		case w.Created:
			created++
		case w.Differs:
			differ++
		}
	}
	if created > 0 {
		fmt.Fprintf(io.ErrOut, "Wrote %d monitoring file(s) under %s.\n", created, filepath.Join(dir, "templates"))
	}
	if differ > 0 {
		fmt.Fprintf(io.ErrOut, "Note: %d file(s) under %s differ from this release's; they are kept as they are.\n", differ, filepath.Join(dir, "templates"))
	}
	config := filepath.Join(dir, stack.ConfigDir)
	if err := os.MkdirAll(config, 0o755); err != nil {
		return fmt.Errorf("create %s (the connector's %s): %w", config, stack.ContainerConfigDir, err)
	}
	return nil
}
