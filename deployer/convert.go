package deployer

import (
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// containerSpec is everything needed to create one service container, plus the networks to join after
// creation (API 1.41 accepts a single endpoint at create time).
type containerSpec struct {
	create    client.ContainerCreateOptions
	laterNets map[string]*network.EndpointSettings
	inline    []inlineFile // configs and secrets given as content, copied in before start
}

type inlineFile struct {
	target  string
	content []byte
	mode    int64
}

// containerName is Compose v2's name for the first replica: <project>-<service>-1.
func containerName(p *types.Project, s types.ServiceConfig) string {
	if s.ContainerName != "" {
		return s.ContainerName
	}
	return p.Name + "-" + s.Name + "-1"
}

// specFor builds the create request for s; imageID goes in Compose's image label ("" when unknown).
func specFor(p *types.Project, s types.ServiceConfig, hash, imageID string) (containerSpec, error) {
	labels := map[string]string{}
	for k, v := range s.Labels {
		labels[k] = v
	}
	for k, v := range map[string]string{
		LabelProject: p.Name, LabelService: s.Name, LabelNumber: "1", LabelOneoff: "False",
		LabelConfigHash: hash, LabelVersion: ComposeVersion, LabelDependsOn: dependsOnLabel(s),
		LabelWorkingDir: p.WorkingDir, LabelConfigFiles: strings.Join(p.ComposeFiles, ","),
	} {
		labels[k] = v
	}
	if imageID != "" {
		labels[LabelImage] = imageID
	}

	cfg := &container.Config{
		Image: s.Image, Labels: labels, Env: envList(s.Environment),
		Hostname: s.Hostname, Domainname: s.DomainName, User: s.User, WorkingDir: s.WorkingDir,
		Tty: s.Tty, OpenStdin: s.StdinOpen, StopSignal: s.StopSignal,
		Cmd: []string(s.Command), Entrypoint: []string(s.Entrypoint),
		ExposedPorts: network.PortSet{},
	}
	if s.StopGracePeriod != nil {
		secs := int(time.Duration(*s.StopGracePeriod).Seconds())
		cfg.StopTimeout = &secs
	}
	if hc := s.HealthCheck; hc != nil {
		cfg.Healthcheck = healthConfig(hc)
	}

	host := &container.HostConfig{
		CapAdd: s.CapAdd, CapDrop: s.CapDrop, SecurityOpt: s.SecurityOpt, Privileged: s.Privileged,
		ReadonlyRootfs: s.ReadOnly, Init: s.Init, ExtraHosts: s.ExtraHosts.AsList(":"), GroupAdd: s.GroupAdd,
		Sysctls: map[string]string(s.Sysctls), ShmSize: int64(s.ShmSize), OomScoreAdj: int(s.OomScoreAdj),
		PidMode: container.PidMode(s.Pid), IpcMode: container.IpcMode(s.Ipc), Runtime: s.Runtime,
		PortBindings: network.PortMap{}, DNSOptions: s.DNSOpts, DNSSearch: s.DNSSearch, Tmpfs: map[string]string{},
	}
	host.RestartPolicy = restartPolicy(s.Restart)
	if s.Logging != nil {
		host.LogConfig = container.LogConfig{Type: s.Logging.Driver, Config: s.Logging.Options}
	}
	for _, d := range s.DNS {
		if a, err := netip.ParseAddr(d); err == nil {
			host.DNS = append(host.DNS, a)
		}
	}
	for _, t := range s.Tmpfs {
		path, opts, _ := strings.Cut(t, ":")
		host.Tmpfs[path] = opts
	}
	applyResources(host, s)
	if err := applyPorts(cfg, host, s); err != nil {
		return containerSpec{}, err
	}
	spec := containerSpec{create: client.ContainerCreateOptions{Name: containerName(p, s), Config: cfg, HostConfig: host}}
	if err := applyMounts(&spec, p, s); err != nil {
		return containerSpec{}, err
	}
	applyNetworks(&spec, p, s)
	return spec, nil
}

func envList(env types.MappingWithEquals) []string {
	var out []string
	for k, v := range env {
		if v != nil {
			out = append(out, k+"="+*v)
		}
	}
	sort.Strings(out)
	return out
}

func healthConfig(hc *types.HealthCheckConfig) *container.HealthConfig {
	if hc.Disable {
		return &container.HealthConfig{Test: []string{"NONE"}}
	}
	out := &container.HealthConfig{Test: []string(hc.Test)}
	dur := func(d *types.Duration) time.Duration {
		if d == nil {
			return 0
		}
		return time.Duration(*d)
	}
	out.Interval, out.Timeout, out.StartPeriod = dur(hc.Interval), dur(hc.Timeout), dur(hc.StartPeriod)
	if hc.Retries != nil {
		out.Retries = int(*hc.Retries)
	}
	return out
}

func restartPolicy(r string) container.RestartPolicy {
	name, count, _ := strings.Cut(r, ":")
	if name == "" {
		name = "no"
	}
	n, _ := strconv.Atoi(count)
	return container.RestartPolicy{Name: container.RestartPolicyMode(name), MaximumRetryCount: n}
}

func applyResources(host *container.HostConfig, s types.ServiceConfig) {
	host.Memory = int64(s.MemLimit)
	host.MemoryReservation = int64(s.MemReservation)
	host.MemorySwap = int64(s.MemSwapLimit)
	host.NanoCPUs = int64(s.CPUS * 1e9)
	host.CPUShares = s.CPUShares
	if s.PidsLimit != 0 {
		host.PidsLimit = &s.PidsLimit
	}
	if s.OomKillDisable {
		host.OomKillDisable = &s.OomKillDisable
	}
	if s.Deploy != nil && s.Deploy.Resources.Limits != nil {
		l := s.Deploy.Resources.Limits
		if l.MemoryBytes != 0 {
			host.Memory = int64(l.MemoryBytes)
		}
		if l.NanoCPUs != 0 {
			host.NanoCPUs = int64(float64(l.NanoCPUs.Value()) * 1e9)
		}
		if l.Pids != 0 {
			host.PidsLimit = &l.Pids
		}
	}
	names := make([]string, 0, len(s.Ulimits))
	for n := range s.Ulimits {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		u := s.Ulimits[n]
		soft, hard := int64(u.Soft), int64(u.Hard)
		if u.Single != 0 {
			soft, hard = int64(u.Single), int64(u.Single)
		}
		host.Ulimits = append(host.Ulimits, &container.Ulimit{Name: n, Soft: soft, Hard: hard})
	}
}

func applyPorts(cfg *container.Config, host *container.HostConfig, s types.ServiceConfig) error {
	for _, e := range s.Expose {
		port, err := network.ParsePort(e)
		if err != nil {
			return fmt.Errorf("service %s: expose %q: %w", s.Name, e, err)
		}
		cfg.ExposedPorts[port] = struct{}{}
	}
	for _, pc := range s.Ports {
		proto := pc.Protocol
		if proto == "" {
			proto = "tcp"
		}
		port, err := network.ParsePort(fmt.Sprintf("%d/%s", pc.Target, proto))
		if err != nil {
			return fmt.Errorf("service %s: port %d: %w", s.Name, pc.Target, err)
		}
		cfg.ExposedPorts[port] = struct{}{}
		b := network.PortBinding{HostPort: pc.Published}
		if pc.HostIP != "" {
			ip, err := netip.ParseAddr(pc.HostIP)
			if err != nil {
				return fmt.Errorf("service %s: port %d: host_ip %q is not an IP address", s.Name, pc.Target, pc.HostIP)
			}
			b.HostIP = ip
		}
		host.PortBindings[port] = append(host.PortBindings[port], b)
	}
	return nil
}

func applyMounts(spec *containerSpec, p *types.Project, s types.ServiceConfig) error {
	host := spec.create.HostConfig
	for _, v := range s.Volumes {
		m := mount.Mount{Type: mount.Type(v.Type), Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
		switch v.Type {
		case types.VolumeTypeVolume:
			if vol, ok := p.Volumes[v.Source]; ok && vol.Name != "" {
				m.Source = vol.Name
			}
			if v.Volume != nil {
				m.VolumeOptions = &mount.VolumeOptions{NoCopy: v.Volume.NoCopy, Subpath: v.Volume.Subpath}
			}
		case types.VolumeTypeBind:
			if v.Bind != nil && bool(v.Bind.CreateHostPath) {
				if _, err := os.Stat(v.Source); os.IsNotExist(err) {
					if err := os.MkdirAll(v.Source, 0o755); err != nil {
						return fmt.Errorf("service %s: create bind source %s: %w", s.Name, v.Source, err)
					}
				}
			}
			if v.Bind != nil && v.Bind.Propagation != "" {
				m.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(v.Bind.Propagation)}
			}
		case types.VolumeTypeTmpfs:
			m.Source = ""
			if v.Tmpfs != nil {
				m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: int64(v.Tmpfs.Size)}
			}
		}
		host.Mounts = append(host.Mounts, m)
	}
	files := func(kind string, refs []types.FileReferenceConfig, objs map[string]types.FileObjectConfig, dir string) error {
		for _, r := range refs {
			obj, ok := objs[r.Source]
			if !ok {
				return fmt.Errorf("service %s: %s %q is not defined at the top level", s.Name, kind, r.Source)
			}
			target := r.Target
			if target == "" {
				target = dir + r.Source
			} else if !strings.HasPrefix(target, "/") {
				target = dir + target
			}
			mode := int64(0o444)
			if r.Mode != nil {
				mode = int64(*r.Mode)
			}
			switch {
			case bool(obj.External):
				return fmt.Errorf("service %s: external %s %q needs swarm; use file: or content:", s.Name, kind, r.Source)
			case obj.File != "":
				// Compose v2 without swarm: a read-only bind mount of the file at the target.
				host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeBind, Source: obj.File, Target: target, ReadOnly: true})
			default:
				spec.inline = append(spec.inline, inlineFile{target: target, content: []byte(obj.Content), mode: mode})
			}
		}
		return nil
	}
	cfgRefs, cfgObjs := make([]types.FileReferenceConfig, 0, len(s.Configs)), map[string]types.FileObjectConfig{}
	for _, c := range s.Configs {
		cfgRefs = append(cfgRefs, types.FileReferenceConfig(c))
	}
	for n, c := range p.Configs {
		cfgObjs[n] = types.FileObjectConfig(c)
	}
	if err := files("config", cfgRefs, cfgObjs, "/"); err != nil {
		return err
	}
	secRefs, secObjs := make([]types.FileReferenceConfig, 0, len(s.Secrets)), map[string]types.FileObjectConfig{}
	for _, c := range s.Secrets {
		secRefs = append(secRefs, types.FileReferenceConfig(c))
	}
	for n, c := range p.Secrets {
		secObjs[n] = types.FileObjectConfig(c)
	}
	return files("secret", secRefs, secObjs, "/run/secrets/")
}

func applyNetworks(spec *containerSpec, p *types.Project, s types.ServiceConfig) {
	host := spec.create.HostConfig
	if s.NetworkMode != "" {
		host.NetworkMode = container.NetworkMode(s.NetworkMode)
		return
	}
	for i, key := range s.NetworksByPriority() {
		name := key
		if n, ok := p.Networks[key]; ok && n.Name != "" {
			name = n.Name
		}
		ep := &network.EndpointSettings{Aliases: []string{s.Name}}
		if sn := s.Networks[key]; sn != nil {
			ep.Aliases = append(ep.Aliases, sn.Aliases...)
			if !sn.ServiceNameAliasEnabled() {
				ep.Aliases = ep.Aliases[1:]
			}
			ipam := &network.EndpointIPAMConfig{}
			if a, err := netip.ParseAddr(sn.Ipv4Address); err == nil {
				ipam.IPv4Address = a
				ep.IPAMConfig = ipam
			}
			if a, err := netip.ParseAddr(sn.Ipv6Address); err == nil {
				ipam.IPv6Address = a
				ep.IPAMConfig = ipam
			}
		}
		if i == 0 {
			host.NetworkMode = container.NetworkMode(name)
			spec.create.NetworkingConfig = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{name: ep}}
			continue
		}
		if spec.laterNets == nil {
			spec.laterNets = map[string]*network.EndpointSettings{}
		}
		spec.laterNets[name] = ep
	}
}
