package deployer

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"
)

// ensureResources creates the project's missing networks and volumes, labelled as Compose labels them.
func (d *Deployer) ensureResources(ctx context.Context, p *types.Project, plan *Plan, r Reporter) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, key := range sortedKeys(p.Networks) {
		n := p.Networks[key]
		if bool(n.External) || !planCreates(plan, "network", n.Name) {
			continue
		}
		g.Go(func() error { return d.createNetwork(ctx, p, key, n, r) })
	}
	for _, key := range sortedKeys(p.Volumes) {
		v := p.Volumes[key]
		if bool(v.External) || !planCreates(plan, "volume", v.Name) {
			continue
		}
		g.Go(func() error {
			labels := projectLabels(p)
			labels[LabelVolume] = key
			for k, val := range v.Labels {
				labels[k] = val
			}
			_, err := d.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: v.Name, Driver: v.Driver, DriverOpts: v.DriverOpts, Labels: labels})
			if err != nil {
				return fmt.Errorf("create volume %s: %w", v.Name, Explain(err))
			}
			report(r, Event{Kind: "volume", Name: v.Name, Status: StatusCreated, Final: true})
			return nil
		})
	}
	return g.Wait()
}

func planCreates(plan *Plan, kind, name string) bool {
	for _, s := range plan.Resources {
		if s.Kind == kind && s.Name == name {
			return s.Action == "create"
		}
	}
	return false
}

func (d *Deployer) createNetwork(ctx context.Context, p *types.Project, key string, n types.NetworkConfig, r Reporter) error {
	// A network of that name without our label (made by hand, or by another project) is used as it is.
	if _, err := d.cli.NetworkInspect(ctx, n.Name, client.NetworkInspectOptions{}); err == nil {
		report(r, Event{Kind: "network", Name: n.Name, Status: StatusExists, Detail: "not labelled for project " + p.Name, Final: true})
		return nil
	}
	labels := projectLabels(p)
	labels[LabelNetwork] = key
	for k, v := range n.Labels {
		labels[k] = v
	}
	opts := client.NetworkCreateOptions{Driver: n.Driver, Options: n.DriverOpts, Internal: n.Internal,
		Attachable: n.Attachable, EnableIPv6: n.EnableIPv6, Labels: labels}
	if len(n.Ipam.Config) > 0 || n.Ipam.Driver != "" {
		ipam := &network.IPAM{Driver: n.Ipam.Driver, Options: n.Ipam.Options}
		for _, pool := range n.Ipam.Config {
			cfg := network.IPAMConfig{}
			var err error
			if pool.Subnet != "" {
				if cfg.Subnet, err = netip.ParsePrefix(pool.Subnet); err != nil {
					return fmt.Errorf("network %s: subnet %q: %w", key, pool.Subnet, err)
				}
			}
			if pool.Gateway != "" {
				if cfg.Gateway, err = netip.ParseAddr(pool.Gateway); err != nil {
					return fmt.Errorf("network %s: gateway %q: %w", key, pool.Gateway, err)
				}
			}
			ipam.Config = append(ipam.Config, cfg)
		}
		opts.IPAM = ipam
	}
	if _, err := d.cli.NetworkCreate(ctx, n.Name, opts); err != nil {
		return fmt.Errorf("create network %s: %w", n.Name, Explain(err))
	}
	report(r, Event{Kind: "network", Name: n.Name, Status: StatusCreated, Final: true})
	return nil
}

// handleOrphans removes the containers of services no longer in the project, or warns about them.
func (d *Deployer) handleOrphans(ctx context.Context, plan *Plan, remove bool, r Reporter) error {
	for _, o := range plan.Orphans {
		if !remove {
			report(r, Event{Kind: "container", Name: o.Name, Status: StatusOrphan,
				Detail: "service " + o.Service + " is not in the project", Final: true})
			continue
		}
		if err := d.removeContainer(ctx, o.existing, nil, r); err != nil {
			return err
		}
		report(r, Event{Kind: "container", Name: o.existing.Name, Status: StatusRemoved, Final: true})
	}
	return nil
}

var hostPortRE = regexp.MustCompile(`(\d+\.\d+\.\d+\.\d+|\[[0-9a-fA-F:]*\]|::):(\d+)`)

// startError explains a failed ContainerStart; a host port conflict names the service and the setting.
func (d *Deployer) startError(p *types.Project, s types.ServiceConfig, err error) error {
	if !isPortInUse(err) {
		return fmt.Errorf("start service %s: %w", s.Name, Explain(err))
	}
	ip, port := "", ""
	if m := hostPortRE.FindAllStringSubmatch(err.Error(), -1); len(m) > 0 {
		ip, port = m[len(m)-1][1], m[len(m)-1][2]
	}
	settings := portSettings(s)
	setting := settings[port]
	for _, pc := range s.Ports {
		if pc.Published == port {
			if st := settings[fmt.Sprint(pc.Target)]; st != "" && setting == "" {
				setting = st
			}
			if ip == "" || ip == "0.0.0.0" {
				ip = pc.HostIP
			}
		}
	}
	if ip == "" {
		ip = "0.0.0.0"
	}
	return &PortInUseError{Service: s.Name, HostIP: ip, Port: port, Setting: setting, Err: err}
}

// ServiceError is a service that failed during up, with what the operator needs to see why.
type ServiceError struct {
	Service     string
	Reason      string
	HealthCheck string   // the last health-check output, if any
	Logs        []string // the last log lines
}

func (e *ServiceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "service %s %s", e.Service, e.Reason)
	if e.HealthCheck != "" {
		fmt.Fprintf(&b, "\nlast health check: %s", strings.TrimSpace(e.HealthCheck))
	}
	if len(e.Logs) > 0 {
		fmt.Fprintf(&b, "\nlast %d log lines:", len(e.Logs))
		for _, l := range e.Logs {
			b.WriteString("\n  " + l)
		}
	}
	return b.String()
}

// failure gathers the last health-check output and the last 20 log lines of service's container.
func (d *Deployer) failure(ctx context.Context, service, id string, cause error) error {
	e := &ServiceError{Service: service, Reason: cause.Error()}
	if id == "" {
		return e
	}
	if res, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil {
		if st := res.Container.State; st != nil && st.Health != nil && len(st.Health.Log) > 0 {
			last := st.Health.Log[len(st.Health.Log)-1]
			e.HealthCheck = fmt.Sprintf("(exit %d) %s", last.ExitCode, last.Output)
		}
	}
	e.Logs = d.tail(ctx, id, 20)
	return e
}

func (d *Deployer) tail(ctx context.Context, id string, n int) []string {
	rc, err := d.cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(n)})
	if err != nil {
		return nil
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, rc); err != nil && buf.Len() == 0 {
		return nil
	}
	s := strings.TrimRight(buf.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
