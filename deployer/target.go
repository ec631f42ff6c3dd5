package deployer

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/client"
)

// Target is a place a stack is deployed to: what m2mctl does with a stack, in neutral terms, in the spirit of
// Compose's api.Compose. The project is the stack as compose-go models it; everything that comes back (plans,
// service states, published ports as host:port, restarts, the node a container runs on) says nothing of the
// engine's own types, so another target — Docker Swarm across hosts — can answer the same questions.
// The Docker Engine on one host is the target made by Open.
type Target interface {
	// Plan compares project with what exists and says what Up would do; it changes nothing.
	Plan(ctx context.Context, project *types.Project, opts Options) (*Plan, error)
	// Up brings project to its described state and waits until every service is where it should be.
	Up(ctx context.Context, project *types.Project, opts UpOptions) (*Plan, error)
	// Status reports every service of project, plus a "missing" row for each name in want that has none.
	Status(ctx context.Context, project string, want []string) ([]ServiceStatus, error)
	// Watch calls fn for each health change, death, OOM kill and (re)start until ctx ends.
	Watch(ctx context.Context, project string, fn func(WatchEvent)) error
	// Logs copies the services' logs to out.
	Logs(ctx context.Context, project string, opts LogsOptions, out io.Writer) error
	// Volumes lists project's volumes with their sizes.
	Volumes(ctx context.Context, project string) ([]VolumeInfo, error)
	// Down removes project's services and networks, and its volumes when asked.
	Down(ctx context.Context, project string, opts DownOptions) error
	// Nodes lists the machines the target runs containers on.
	Nodes(ctx context.Context) ([]Node, error)
	// Close releases the connection to the target.
	Close() error
}

// Node is a machine a target runs containers on: the one engine of a single host, or a member of a cluster.
type Node struct {
	Name   string `json:"name"`
	Memory int64  `json:"memory"` // total bytes; 0 when unknown
}

// Nodes reports the one engine this target drives.
func (d *Deployer) Nodes(ctx context.Context) ([]Node, error) {
	res, err := d.cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return nil, fmt.Errorf("engine info: %w", Explain(err))
	}
	return []Node{{Name: res.Info.Name, Memory: res.Info.MemTotal}}, nil
}

var _ Target = (*Deployer)(nil)

// Open connects to the Docker engine named by DOCKER_HOST (or the default socket) and returns it as a Target
// for one host. Close releases the connection.
func Open(ctx context.Context) (Target, error) {
	cli, err := Connect(ctx)
	if err != nil {
		return nil, err
	}
	d := New(cli)
	d.closer = cli
	return d, nil
}

// Close releases the engine connection when the Deployer opened it (Open); a Deployer made by New leaves
// its client to the caller.
func (d *Deployer) Close() error {
	if d.closer == nil {
		return nil
	}
	return d.closer.Close()
}

// Typed errors: what went wrong, with the values, and nothing of how the caller spells its options — the
// command that gave the option says which flag or setting to change.

// WaitTimeoutError is returned by Up when services did not reach their end state within UpOptions.WaitTimeout.
type WaitTimeoutError struct {
	Timeout time.Duration
	Pending []string // "connector not yet healthy", …
}

func (e *WaitTimeoutError) Error() string {
	return fmt.Sprintf("services not ready after %s: %s", e.Timeout, strings.Join(e.Pending, ", "))
}

// PortInUseError is a container that could not start because its host port is taken.
type PortInUseError struct {
	Service string
	HostIP  string
	Port    string
	// Setting is the setting that publishes the port, from the service's port-settings label ("" if none).
	Setting string
	Err     error // the engine's error
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %s is already in use on %s (service %s)", e.Port, e.HostIP, e.Service)
}

func (e *PortInUseError) Unwrap() error { return e.Err }

// ImageMissingError is an image that is not on the host and may not be pulled.
type ImageMissingError struct {
	Image string
	// Hint says how to get an image that is never pulled (Options.LocalOnly); empty when the pull policy forbids it.
	Hint string
}

func (e *ImageMissingError) Error() string {
	if e.Hint != "" {
		return fmt.Sprintf("image %s is not on this host and is never pulled: %s", e.Image, e.Hint)
	}
	return fmt.Sprintf("image %s is not on this host and the pull policy is %s: load it (docker load -i FILE) or build it",
		e.Image, PullNever)
}

// PullError is a failed image pull that the engine did not explain.
type PullError struct {
	Image string
	Err   error
}

func (e *PullError) Error() string {
	return fmt.Sprintf("pull %s failed: %s; check that this host reaches the registry (proxy, DNS, login), "+
		"or load the image (docker load -i FILE)", e.Image, firstLine(e.Err.Error()))
}

func (e *PullError) Unwrap() error { return e.Err }
