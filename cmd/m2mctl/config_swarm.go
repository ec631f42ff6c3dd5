package main

import (
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

// swarmTarget reports whether the stack goes to a Swarm: --target when given, else DEPLOY_TARGET.
func swarmTarget(flag string, v settings.Values) bool {
	if flag != "" {
		return flag == settings.TargetSwarm
	}
	return v.String(settings.DeployTarget) == settings.TargetSwarm
}

// configSwarm prints the stack file for `docker stack deploy` (optional services only with --profile).
func configSwarm(opts *configOptions, v settings.Values) error {
	project, err := stack.SwarmProject(v, opts.profiles)
	if err != nil {
		return err
	}
	return writeStack(opts, project, stack.SwarmYAML)
}

// writeStack prints project as JSON (-o json) or as yamlOf writes it.
func writeStack(opts *configOptions, project *types.Project, yamlOf func(*types.Project) ([]byte, error)) error {
	var out []byte
	var err error
	if opts.output == "json" {
		out, err = project.MarshalJSON()
	} else {
		out, err = yamlOf(project)
	}
	if err != nil {
		return err
	}
	_, err = opts.io.Out.Write(out)
	return err
}
