package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// SwarmNode is one "host" of a test swarm: a network namespace on the swarm's bridge with its own dockerd.
type SwarmNode struct {
	Index  int
	NetNS  string // network namespace name, also the node's unique prefix
	IP     string // its address on the bridge
	Host   string // DOCKER_HOST of its engine (unix://…)
	ID     string // swarm node id, once joined
	Client *client.Client

	dir     string
	cmd     *exec.Cmd
	exited  chan struct{}
	exitErr error
}

// startEngine runs dockerd inside the node's namespace through nsenter (ip netns exec would hide the cgroup
// mounts), with an empty configuration file (the host's daemon.json conflicts with these flags), its own
// data, exec root and containerd namespace, and no bridge or iptables of its own; Swarm tasks use the images
// loaded into it without trying a registry first.
func (n *SwarmNode) startEngine(ctx context.Context) error {
	empty := filepath.Join(n.dir, "daemon.json")
	if err := os.WriteFile(empty, []byte("{}\n"), 0o600); err != nil {
		return err
	}
	sock := filepath.Join(n.dir, "d.sock")
	n.Host = "unix://" + sock
	logf, err := os.OpenFile(filepath.Join(n.dir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	n.cmd = exec.Command("nsenter", "--net=/var/run/netns/"+n.NetNS, "dockerd",
		"--config-file", empty, "--data-root", filepath.Join(n.dir, "data"), "--exec-root", filepath.Join(n.dir, "exec"),
		"--pidfile", filepath.Join(n.dir, "d.pid"), "-H", n.Host, "--bridge", "none", "--iptables=false",
		"--storage-driver", "fuse-overlayfs", "--containerd-namespace", n.NetNS, "--containerd-plugins-namespace", n.NetNS+"p")
	// No registry is reachable: a task would first try to pull its image (Docker does, unless the image is
	// named by id), wait for the lookup of the registry to time out, and only then use the image loaded here.
	// The engine's own switch for hosts without a registry skips that, and with it every query for a
	// registry's address leaving the test's namespaces.
	n.cmd.Env = append(os.Environ(), "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1")
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start dockerd in %s: %w", n.NetNS, err)
	}
	n.exited = make(chan struct{})
	go func() { n.exitErr = n.cmd.Wait(); logf.Close(); close(n.exited) }()
	if n.Client == nil {
		if n.Client, err = client.New(client.WithHost(n.Host), client.WithAPIVersionNegotiation()); err != nil {
			return err
		}
	}
	return n.waitEngine(ctx)
}

// waitEngine waits until the engine answers a ping, or fails at once if dockerd exited.
func (n *SwarmNode) waitEngine(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := n.Client.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true})
		pcancel()
		if err == nil {
			return nil
		}
		select {
		case <-n.exited:
			return fmt.Errorf("dockerd in %s exited (%v): %s", n.NetNS, n.exitErr, n.logTail())
		case <-ctx.Done():
			return fmt.Errorf("dockerd in %s did not answer: %v: %s", n.NetNS, err, n.logTail())
		case <-tick.C:
		}
	}
}

// StopEngine stops the node's dockerd (SIGTERM, then SIGKILL after 30 s): the node is lost to the swarm.
func (n *SwarmNode) StopEngine() error {
	if n.cmd == nil || n.cmd.Process == nil {
		return nil
	}
	select {
	case <-n.exited:
		return nil
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		<-n.exited
	}
	return nil
}

// StartEngine starts the node's dockerd again, with its data: it rejoins the swarm by itself.
func (n *SwarmNode) StartEngine(ctx context.Context) error { return n.startEngine(ctx) }

func (n *SwarmNode) logTail() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "dockerd.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-8):], "\n")
}

// removeContainers removes every container of the node, so none outlives its dockerd in the shared containerd.
func (n *SwarmNode) removeContainers(ctx context.Context) error {
	if n.Client == nil {
		return nil
	}
	select {
	case <-n.exited:
		return nil
	default:
	}
	res, err := n.Client.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range res.Items {
		// The swarm may be removing it too (not found, or a removal already in progress).
		if _, err := n.Client.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
