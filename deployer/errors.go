package deployer

import (
	"errors"
	"fmt"
	"os"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Explain turns the engine errors an operator meets into one line that names the fix. Errors it does not
// recognise are returned unchanged. Port conflicts are explained where the service is known (see portError).
func Explain(err error) error {
	if err == nil {
		return nil
	}
	var done explained
	if errors.As(err, &done) {
		return err
	}
	msg := err.Error()
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	switch {
	case strings.Contains(msg, "permission denied") && strings.Contains(msg, ".sock"):
		return explained{fmt.Errorf("permission denied on the Docker socket (%s): add your user to the docker group "+
			"(sudo usermod -aG docker $USER, then log in again) or run as root", host), err}
	case client.IsErrConnectionFailed(err) || strings.Contains(msg, "connection refused") ||
		(strings.Contains(msg, "no such file or directory") && strings.Contains(msg, ".sock")):
		return explained{fmt.Errorf("cannot reach the Docker engine at %s: start it (sudo systemctl start docker) "+
			"or set DOCKER_HOST to where it listens", host), err}
	case strings.Contains(msg, "no space left on device"):
		return explained{fmt.Errorf("the disk is full (no space left on device): free space, e.g. "+
			"'docker system prune' or a larger disk for /var/lib/docker: %s", firstLine(msg)), err}
	}
	return err
}

// explained is an error already phrased for the operator; Unwrap keeps the engine's error for errors.Is.
type explained struct{ msg, cause error }

func (e explained) Error() string { return e.msg.Error() }
func (e explained) Unwrap() error { return e.cause }

// isPortInUse reports whether a start error is a host port conflict.
func isPortInUse(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "address already in use")
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

// DependencyError says a service was not started because a dependency failed; it wraps the dependency's error,
// so its typed cause (a port in use, a missing image) is still found with errors.As whichever service reports first.
type DependencyError struct {
	Service, Dependency string
	Err                 error
}

func (e *DependencyError) Error() string {
	return fmt.Sprintf("service %s not started: its dependency %s %s", e.Service, e.Dependency, firstLine(e.Err.Error()))
}

func (e *DependencyError) Unwrap() error { return e.Err }
