// Package deployer drives the Docker Engine API to bring a Compose project up, watch it and take it down:
// observe what exists by Compose's labels, plan the difference as data, then apply it.
package deployer

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/moby/moby/client"
)

// Engine is the part of the Docker Engine API the deployer uses; *client.Client satisfies it.
type Engine interface {
	client.ContainerAPIClient
	client.ExecAPIClient // runs a dependency's health test before the engine's first interval (probe.go)
	client.ImageAPIClient
	client.ImageBuildAPIClient
	client.NetworkAPIClient
	client.VolumeAPIClient
	client.SystemAPIClient
}

// Connect opens a client for the engine named by DOCKER_HOST (or the default socket), negotiates the API
// version, and checks that the engine answers. Its errors are one line that says what to do.
func Connect(ctx context.Context) (*client.Client, error) {
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w (check DOCKER_HOST=%q)", err, os.Getenv("DOCKER_HOST"))
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, Explain(err)
	}
	return cli, nil
}

// Deployer is the Docker Engine target: it applies Compose projects to one engine.
type Deployer struct {
	cli    Engine
	closer io.Closer // the client, when Open made it
}

// New returns a Deployer that talks to cli.
func New(cli Engine) *Deployer { return &Deployer{cli: cli} }
