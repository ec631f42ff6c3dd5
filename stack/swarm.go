package stack

import (
	"bytes"
	"cmp"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/m2mnet/m2m/stack/settings"
	"github.com/m2mnet/m2m/templates"

	"github.com/compose-spec/compose-go/v2/types"
)

// Swarm stack files: `m2mctl config --target swarm` prints one, `docker stack deploy -c FILE m2m` deploys it.
const (
	// hostNetwork is the key, in a stack file, of the engine's own host network (TigerBeetle replicas run on it
	// so that each listens on its node's address, which stays the same across restarts: TigerBeetle takes only
	// IP literals and a Swarm task's overlay address changes when the task is replaced).
	hostNetwork = "hostnet"
	// Secret keys in a stack file; the secret objects are named <project>_<key> and made by `m2mctl up` (or
	// `docker secret create`), so no secret ever enters the file.
	SecretNodeKey         = "node_private_key"
	SecretGrafanaPassword = "grafana_password"
	// SecretsDir is where Swarm mounts a service's secrets.
	SecretsDir = "/run/secrets"
)

// SwarmProject returns the stack for a Docker Swarm: every TigerBeetle replica pinned to its labelled node on
// the host network with its own format job, the connector and monitoring on the edge node, BTP published in host
// mode there, DNS round robin instead of virtual IPs, secrets as Swarm secrets read from files (*_FILE), the
// monitoring templates as Swarm configs. Services of profiles not in profiles are left out: a stack file has none.
func SwarmProject(v settings.Values, profiles []string) (*types.Project, error) {
	base := Build(settings.Values(with(v, settings.TigerBeetleReplicaCount, "1")))
	base, err := base.WithProfiles(profiles)
	if err != nil {
		return nil, fmt.Errorf("enable profiles %v: %w", profiles, err)
	}
	project := cmp.Or(v.String(settings.ProjectName), ProjectName)
	p := &types.Project{Name: base.Name, Services: types.Services{}, Volumes: types.Volumes{},
		Networks: types.Networks{
			NetworkName: {Driver: "overlay", Attachable: true},
			hostNetwork: {Name: "host", External: true},
		},
		Secrets: types.Secrets{}, Configs: types.Configs{},
	}
	n := v.ReplicaCount()
	for i := range n {
		f, tb := swarmReplica(base, i, n)
		p.Services[f.Name], p.Services[tb.Name] = f, tb
		p.Volumes[ReplicaVolume(i)] = types.VolumeConfig{}
	}
	for name, s := range base.Services {
		if name == settings.ServiceFormat || name == settings.ServiceTigerBeetle {
			continue
		}
		p.Services[name] = swarmService(s, edge())
		for _, vol := range s.Volumes {
			if vol.Type == types.VolumeTypeVolume {
				p.Volumes[vol.Source] = types.VolumeConfig{}
			}
		}
	}
	if c, ok := p.Services[settings.ServiceConnector]; ok {
		replicas := ref(settings.TigerBeetleReplicaAddresses)
		c.Environment[settings.TigerBeetleAddress] = &replicas
		if v.String(settings.NodePrivateKey) != "" { // a Swarm secret cannot be empty
			useSecret(p, &c, project, SecretNodeKey, settings.NodePrivateKey, settings.NodePrivateKey+settings.FileSuffix)
		}
		// The health port is for this node only: on a Swarm, host-mode ports bind every interface, so only BTP is
		// published; Prometheus scrapes the connector over the overlay network.
		c.Ports = slices.DeleteFunc(c.Ports, func(pc types.ServicePortConfig) bool { return pc.Target != ContainerBTPPort })
		p.Services[c.Name] = c
	}
	if g, ok := p.Services[settings.ServiceGrafana]; ok {
		delete(g.Environment, "GF_SECURITY_ADMIN_PASSWORD")
		useSecret(p, &g, project, SecretGrafanaPassword, settings.GrafanaPassword, "GF_SECURITY_ADMIN_PASSWORD__FILE")
		g.Ports = nil
		if err := useConfigs(p, &g, "grafana/provisioning", "/etc/grafana/provisioning"); err != nil {
			return nil, err
		}
		if err := useConfigs(p, &g, "grafana/dashboards", "/var/lib/grafana/dashboards"); err != nil {
			return nil, err
		}
		p.Services[g.Name] = g
	}
	if pr, ok := p.Services[settings.ServicePrometheus]; ok {
		pr.Ports = nil
		if err := useConfigs(p, &pr, "prometheus", "/etc/prometheus"); err != nil {
			return nil, err
		}
		p.Services[pr.Name] = pr
	}
	return p, nil
}

// with returns a copy of v with key set to value.
func with(v settings.Values, key, value string) map[string]string {
	out := make(map[string]string, len(v)+1)
	for k, val := range v {
		out[k] = val
	}
	out[key] = value
	return out
}

func edge() []string { return []string{"node.labels." + NodeLabelEdge + "==true"} }

func replicaPlacement(i int) []string {
	return []string{fmt.Sprintf("node.labels.%s==%d", NodeLabelReplica, i)}
}

// swarmReplica is replica i of n: its format job and its server, both on its node.
func swarmReplica(base *types.Project, i, n int) (types.ServiceConfig, types.ServiceConfig) {
	f := replicaFormat(i, n)
	f.Networks = map[string]*types.ServiceNetworkConfig{hostNetwork: nil}
	f = swarmService(f, replicaPlacement(i))
	one := 1
	f.Deploy.Mode, f.Deploy.Replicas = "replicated-job", &one
	f.Deploy.RestartPolicy = &types.RestartPolicy{Condition: "on-failure", MaxAttempts: retries(3)}

	tb := base.Services[settings.ServiceTigerBeetle]
	tb.Name = ReplicaService(i)
	tb.Command = types.ShellCommand{"start", "--addresses=" + ref(settings.TigerBeetleReplicaAddresses),
		"--cache-grid=" + ref(settings.TigerBeetleCacheGrid), ReplicaDataFile(i)}
	tb.Volumes = []types.ServiceVolumeConfig{volume(ReplicaVolume(i), "/data", false)}
	addrs := ref(settings.TigerBeetleReplicaAddresses)
	tb.Environment = types.MappingWithEquals{settings.TigerBeetleReplicaAddresses: &addrs}
	// The replica listens on entry i of the list, its node's address.
	hc := *tb.HealthCheck
	hc.Test = types.HealthCheckTest{"CMD-SHELL", fmt.Sprintf(
		"IFS=,; set -- $$%s; shift %d; timeout 2 nc $${1%%:*} $${1##*:} </dev/null; test $$? -ne 1",
		settings.TigerBeetleReplicaAddresses, i)}
	tb.HealthCheck = &hc
	tb.Networks = map[string]*types.ServiceNetworkConfig{hostNetwork: nil}
	return f, swarmService(tb, replicaPlacement(i))
}

// swarmService moves what a Swarm does differently into deploy: placement, restart policy, DNS round robin;
// and drops what a Swarm service cannot have (depends_on: the order is m2mctl's; security_opt and host IPs of
// ports are not in Swarm's API 1.41; profiles).
func swarmService(s types.ServiceConfig, constraints []string) types.ServiceConfig {
	d := types.DeployConfig{EndpointMode: "dnsrr", Placement: types.Placement{Constraints: constraints}}
	if s.Restart != types.RestartPolicyNo {
		d.RestartPolicy = &types.RestartPolicy{Condition: "any"}
	}
	s.Deploy = &d
	s.Restart, s.DependsOn, s.SecurityOpt, s.Profiles = "", nil, nil, nil
	for i := range s.Ports {
		s.Ports[i].Mode, s.Ports[i].HostIP = "host", ""
	}
	if len(s.Tmpfs) > 0 {
		for _, t := range s.Tmpfs {
			s.Volumes = append(s.Volumes, types.ServiceVolumeConfig{Type: types.VolumeTypeTmpfs, Target: t})
		}
		s.Tmpfs = nil
	}
	// Bind mounts of the templates become configs (useConfigs); the operator's ./config stays a bind mount on
	// the edge node.
	s.Volumes = slices.DeleteFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Type == types.VolumeTypeBind && strings.HasPrefix(v.Source, "./templates/")
	})
	return s
}

// useSecret gives s the Swarm secret key (object <project>_<key>), mounted at /run/secrets/<key>, in place of
// the setting's environment variable; fileVar names the file to the code.
func useSecret(p *types.Project, s *types.ServiceConfig, project, key, setting, fileVar string) {
	delete(s.Environment, setting)
	at := path.Join(SecretsDir, key)
	s.Environment[fileVar] = &at
	s.Secrets = append(s.Secrets, types.ServiceSecretConfig{Source: key})
	p.Secrets[key] = types.SecretConfig{Name: project + "_" + key, External: true}
}

// useConfigs mounts every embedded template file under dir (templates/<dir>/…) at target/… as a Swarm config.
func useConfigs(p *types.Project, s *types.ServiceConfig, dir, target string) error {
	return fs.WalkDir(templates.FS(), dir, func(name string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		key := strings.NewReplacer("/", "-", ".", "-").Replace(name)
		p.Configs[key] = types.ConfigObjConfig{File: "./templates/" + name}
		s.Configs = append(s.Configs, types.ServiceConfigObjConfig{Source: key, Target: path.Join(target, strings.TrimPrefix(name, dir+"/"))})
		return nil
	})
}

// SwarmYAML writes p as a stack file for `docker stack deploy`, headed by a comment.
func SwarmYAML(p *types.Project) ([]byte, error) {
	body, err := p.MarshalYAML()
	if err != nil {
		return nil, fmt.Errorf("marshal stack %s: %w", p.Name, err)
	}
	// A stack file has no name (docker stack deploy takes it as its argument, and its schema refuses the key).
	if first, rest, ok := bytes.Cut(body, []byte("\n")); ok && bytes.HasPrefix(first, []byte("name: ")) {
		body = rest
	}
	head := "# The m2m node stack for Docker Swarm, made by `m2mctl config --target swarm`. Secrets are not here:\n" +
		"# values come from .env, secrets are Swarm secrets made by `m2mctl up`.\n" +
		"# Deploy with `m2mctl up` (DEPLOY_TARGET=swarm), or `docker stack deploy -c FILE " + p.Name + "` from this directory.\n"
	return append([]byte(head), body...), nil
}
