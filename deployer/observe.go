package deployer

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"
)

// Container is what the Docker Engine target knows of one existing service container, in neutral terms.
type Container struct {
	ID         string
	Name       string
	Service    string
	Number     int
	State      string // created, running, exited, restarting, paused, dead
	Health     string // "", starting, healthy, unhealthy
	ExitCode   int
	OOMKilled  bool
	ConfigHash string
	ImageID    string
	Image      string
	StartedAt  time.Time
	Restarts   int
	Ports      []PublishedPort
	Labels     map[string]string
	Restart    string // restart policy name
	Tty        bool
	// Done is set for a one-shot whose done-if-exists path is present in its mounts.
	Done bool
}

// PublishedPort is a container port published on the host.
type PublishedPort struct {
	Target string `json:"target"` // the container's port and protocol: "8080/tcp"
	Host   string `json:"host"`   // host:port as bound: "127.0.0.1:49153", "0.0.0.0:4000"
}

// Addr is where a client on this host reaches the port: an unspecified address becomes loopback.
func (p PublishedPort) Addr() string {
	host, port, err := net.SplitHostPort(p.Host)
	if err != nil {
		return p.Host
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// Resource is a network or a volume of a project.
type Resource struct {
	ID     string
	Name   string
	Labels map[string]string
}

// Observed is what exists on the engine for one project.
type Observed struct {
	Project    string
	Containers map[string][]Container // by service, one-off containers excluded
	Networks   map[string]Resource    // by name
	Volumes    map[string]Resource    // by name
}

func projectFilter(project string) client.Filters {
	return make(client.Filters).Add("label", LabelProject+"="+project)
}

// Observe lists the containers, networks and volumes that carry project's label. The calls go out at once:
// one after the other, the inspects of a stack's containers were most of `m2mctl status`'s time.
func (d *Deployer) Observe(ctx context.Context, project string) (*Observed, error) {
	obs := &Observed{Project: project, Containers: map[string][]Container{},
		Networks: map[string]Resource{}, Volumes: map[string]Resource{}}
	g, gctx := errgroup.WithContext(ctx)
	var containers []Container
	g.Go(func() (err error) { containers, err = d.observeContainers(gctx, project); return err })
	g.Go(func() error {
		nets, err := d.cli.NetworkList(gctx, client.NetworkListOptions{Filters: projectFilter(project)})
		if err != nil {
			return fmt.Errorf("list networks of project %s: %w", project, Explain(err))
		}
		for _, n := range nets.Items {
			obs.Networks[n.Name] = Resource{ID: n.ID, Name: n.Name, Labels: n.Labels}
		}
		return nil
	})
	g.Go(func() error {
		vols, err := d.cli.VolumeList(gctx, client.VolumeListOptions{Filters: projectFilter(project)})
		if err != nil {
			return fmt.Errorf("list volumes of project %s: %w", project, Explain(err))
		}
		for _, v := range vols.Items {
			obs.Volumes[v.Name] = Resource{Name: v.Name, Labels: v.Labels}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, c := range containers {
		obs.Containers[c.Service] = append(obs.Containers[c.Service], c)
	}
	for _, cs := range obs.Containers {
		sort.Slice(cs, func(i, j int) bool { return cs[i].Number < cs[j].Number })
	}
	return obs, nil
}

// observeContainers lists project's service containers (one-offs excluded) and inspects them all at once.
func (d *Deployer) observeContainers(ctx context.Context, project string) ([]Container, error) {
	list, err := d.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: projectFilter(project)})
	if err != nil {
		return nil, fmt.Errorf("list containers of project %s: %w", project, Explain(err))
	}
	var ids []string
	for _, s := range list.Items {
		if s.Labels[LabelOneoff] != "True" {
			ids = append(ids, s.ID)
		}
	}
	out := make([]Container, len(ids))
	g, ctx := errgroup.WithContext(ctx)
	for i, id := range ids {
		g.Go(func() error {
			c, err := d.inspect(ctx, id)
			if err != nil {
				return err
			}
			if c.Done, err = d.lookDone(ctx, c); err != nil {
				return err
			}
			out[i] = c
			return nil
		})
	}
	return out, g.Wait()
}

func (d *Deployer) inspect(ctx context.Context, id string) (Container, error) {
	res, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return Container{}, fmt.Errorf("inspect container %s: %w", id, Explain(err))
	}
	r := res.Container
	c := Container{ID: r.ID, Name: trimSlash(r.Name), ImageID: r.Image, Restarts: r.RestartCount}
	if r.Config != nil {
		c.Labels = r.Config.Labels
		c.Image = r.Config.Image
	}
	c.Service = c.Labels[LabelService]
	c.ConfigHash = c.Labels[LabelConfigHash]
	c.Number, _ = strconv.Atoi(c.Labels[LabelNumber])
	if st := r.State; st != nil {
		c.State, c.ExitCode, c.OOMKilled = string(st.Status), st.ExitCode, st.OOMKilled
		if st.Health != nil {
			c.Health = string(st.Health.Status)
		}
		if t, err := time.Parse(time.RFC3339Nano, st.StartedAt); err == nil && t.Year() > 1 {
			c.StartedAt = t
		}
	}
	if r.NetworkSettings != nil {
		c.Ports = publishedPorts(r.NetworkSettings.Ports)
	}
	if r.HostConfig != nil {
		c.Restart = string(r.HostConfig.RestartPolicy.Name)
	}
	if r.Config != nil {
		c.Tty = r.Config.Tty
	}
	return c, nil
}

func publishedPorts(m network.PortMap) []PublishedPort {
	var out []PublishedPort
	for port, bindings := range m {
		for _, b := range bindings {
			ip := "0.0.0.0"
			if b.HostIP.IsValid() {
				ip = b.HostIP.String()
			}
			out = append(out, PublishedPort{Target: port.String(), Host: net.JoinHostPort(ip, b.HostPort)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Target != out[j].Target {
			return out[i].Target < out[j].Target
		}
		return out[i].Host < out[j].Host
	})
	return out
}

// lookDone looks, for a one-shot that has not completed, whether its done-if-exists path is there.
func (d *Deployer) lookDone(ctx context.Context, c Container) (bool, error) {
	path := doneIfExists(c.Labels, c.Restart)
	if path == "" || (c.State == stateExited && c.ExitCode == 0) {
		return false, nil
	}
	return d.pathExists(ctx, c.ID, path)
}

func trimSlash(s string) string {
	if len(s) > 0 && s[0] == '/' {
		return s[1:]
	}
	return s
}

// pathExists reports whether path exists in container id's file system, mounts included. It works on a
// created, never-started container, so it looks into a volume without running anything.
func (d *Deployer) pathExists(ctx context.Context, id, path string) (bool, error) {
	_, err := d.cli.ContainerStatPath(ctx, id, client.ContainerStatPathOptions{Path: path})
	if err == nil {
		return true, nil
	}
	if isNotFound(err) {
		return false, nil
	}
	return false, fmt.Errorf("look for %s in container %s: %w", path, id, Explain(err))
}
