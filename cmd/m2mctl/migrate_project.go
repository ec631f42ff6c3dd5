package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/m2mnet/m2m/stack/settings"
)

// projectFromEnvFile makes the .env's COMPOSE_PROJECT_NAME the default of -p/--project-name for the commands that
// have both flags, as it is for `docker compose`: a stack adopted by `m2mctl migrate` keeps the original's project
// name, hence its volumes, in every command. An explicit -p wins.
func projectFromEnvFile(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	project, envFile := f.Lookup("project-name"), f.Lookup("env-file")
	if project == nil || envFile == nil || project.Changed {
		return nil
	}
	file, err := os.Open(envFile.Value.String())
	if err != nil {
		return nil // the command itself says what is wrong with a missing .env
	}
	defer file.Close()
	raw, _ := settings.ReadRaw(file)
	for _, e := range raw {
		if e.Key == settings.ProjectName && e.Value != "" {
			return project.Value.Set(e.Value)
		}
	}
	return nil
}
