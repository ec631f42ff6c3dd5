package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

// targetChoice gives the deploy commands the target the .env names (DEPLOY_TARGET): the Docker Engine of this
// host, or the Swarm whose manager DOCKER_HOST (or the default socket) is. It reads the .env once, before the
// command runs, and carries the values of the stack's Swarm secrets to the target.
type targetChoice struct {
	engine  openTarget
	swarm   bool
	secrets map[string][]byte
}

func (c *targetChoice) open(ctx context.Context) (deployer.Target, error) {
	if !c.swarm {
		return c.engine(ctx)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return deployer.OpenSwarm(cctx, c.secrets)
}

// preRun runs before every command: the project name from the .env, then the target it asks for.
func (c *targetChoice) preRun(cmd *cobra.Command, args []string) error {
	if err := projectFromEnvFile(cmd, args); err != nil {
		return err
	}
	envFile := cmd.Flags().Lookup("env-file")
	if envFile == nil {
		return nil
	}
	v, err := settings.Load(envFile.Value.String())
	if err != nil {
		return nil // the command itself reports a missing or broken .env
	}
	c.swarm = v.String(settings.DeployTarget) == settings.TargetSwarm
	c.secrets = map[string][]byte{
		stack.SecretGrafanaPassword: []byte(v.String(settings.GrafanaPassword)),
		stack.SecretNodeKey:         []byte(v.String(settings.NodePrivateKey)),
	}
	return nil
}

// isSwarmError reports whether err is one of the Swarm target's typed errors.
func isSwarmError(err error) bool {
	var secret *deployer.MissingSecretError
	return errors.As(err, &secret) || errors.Is(err, deployer.ErrSwarmVolumes)
}

// explainSwarmError names the setting or the command that fixes a Swarm target's error.
func explainSwarmError(err error) error {
	var secret *deployer.MissingSecretError
	var volumes *deployer.SwarmVolumesError
	switch {
	case errors.As(err, &secret):
		setting := map[string]string{stack.SecretGrafanaPassword: settings.GrafanaPassword, stack.SecretNodeKey: settings.NodePrivateKey}[secret.Key]
		return fmt.Errorf("%w: set %s in .env (m2mctl init makes it), or create it: docker secret create %s FILE", err, setting, secret.Name)
	case errors.As(err, &volumes):
		var b strings.Builder
		fmt.Fprintf(&b, "the stack is down; its volumes on this engine are removed (%d), ", len(volumes.Removed))
		b.WriteString("but a manager cannot remove the volumes of other nodes. On each node, run:")
		for _, n := range volumes.Left {
			fmt.Fprintf(&b, "\n  node %s:  docker volume rm %s", n.Node, strings.Join(n.Volumes, " "))
		}
		fmt.Fprintf(&b, "\n(`docker volume ls --filter label=com.docker.stack.namespace=%s` on a node lists any the Swarm no longer remembers.)", volumes.Project)
		return errors.New(b.String())
	default:
		return fmt.Errorf("%w: run `docker volume rm` for the stack's volumes on each node (docker volume ls --filter label=com.docker.stack.namespace=PROJECT)", err)
	}
}
