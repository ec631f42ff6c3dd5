package deployer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
)

// Labels of a Swarm stack, as `docker stack deploy` writes them, so that either tool sees the other's services.
const (
	labelStackNamespace = "com.docker.stack.namespace"
	labelStackImage     = "com.docker.stack.image"
	// labelSpecHash is the hash of the service's spec without it: Up keeps a service whose hash is the same.
	labelSpecHash = "io.m2m.spec-hash"
)

// swarmRefs are the ids of the secrets and configs a service refers to, by their key in the project.
type swarmRefs struct {
	secrets, configs map[string]string
}

// serviceSpecFor is the Swarm service of s: what `docker stack deploy` makes of the same stack file.
func serviceSpecFor(p *types.Project, s types.ServiceConfig, refs swarmRefs) (swarm.ServiceSpec, error) {
	name := p.Name + "_" + s.Name
	labels := map[string]string{labelStackNamespace: p.Name, labelStackImage: s.Image}
	cs := &swarm.ContainerSpec{
		Image: s.Image, Labels: map[string]string{labelStackNamespace: p.Name}, Command: s.Entrypoint, Args: s.Command,
		Env: envList(s.Environment), User: s.User, ReadOnly: s.ReadOnly, CapabilityDrop: s.CapDrop, Hostname: s.Hostname,
		// The docker CLI always sends privileges and resources, empty when the file sets none; the same spec
		// keeps each tool from replacing the other's tasks.
		Privileges: &swarm.Privileges{},
	}
	if s.HealthCheck != nil {
		cs.Healthcheck = healthConfig(s.HealthCheck)
	}
	for k, v := range s.Labels {
		cs.Labels[k] = v
	}
	if s.StopGracePeriod != nil {
		d := time.Duration(*s.StopGracePeriod)
		cs.StopGracePeriod = &d
	}
	for _, v := range s.Volumes {
		m := mount.Mount{Type: mount.Type(v.Type), Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
		if v.Type == types.VolumeTypeVolume {
			m.Source = p.Name + "_" + v.Source
			m.VolumeOptions = &mount.VolumeOptions{Labels: map[string]string{labelStackNamespace: p.Name}}
		}
		if v.Type == types.VolumeTypeTmpfs {
			m.Source = ""
		}
		cs.Mounts = append(cs.Mounts, m)
	}
	for _, ref := range s.Secrets {
		obj := p.Secrets[ref.Source]
		cs.Secrets = append(cs.Secrets, &swarm.SecretReference{SecretID: refs.secrets[ref.Source], SecretName: obj.Name,
			File: &swarm.SecretReferenceFileTarget{Name: secretTarget(ref), UID: "0", GID: "0", Mode: 0o444}})
	}
	// Sorted by name, as the docker CLI sorts them: the order of a list is part of the spec.
	slices.SortStableFunc(cs.Secrets, func(a, b *swarm.SecretReference) int { return strings.Compare(a.SecretName, b.SecretName) })
	for _, ref := range s.Configs {
		cs.Configs = append(cs.Configs, &swarm.ConfigReference{ConfigID: refs.configs[ref.Source], ConfigName: configName(p, ref.Source),
			File: &swarm.ConfigReferenceFileTarget{Name: orDefault(ref.Target, "/"+ref.Source), UID: "0", GID: "0", Mode: 0o444}})
	}
	slices.SortStableFunc(cs.Configs, func(a, b *swarm.ConfigReference) int { return strings.Compare(a.ConfigName, b.ConfigName) })
	spec := swarm.ServiceSpec{Annotations: swarm.Annotations{Name: name, Labels: labels},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: cs, Resources: &swarm.ResourceRequirements{}}}
	if s.Logging != nil && s.Logging.Driver != "" {
		spec.TaskTemplate.LogDriver = &swarm.Driver{Name: s.Logging.Driver, Options: s.Logging.Options}
	}
	for net := range s.Networks {
		n := p.Networks[net]
		target := p.Name + "_" + net
		if n.External {
			target = n.Name
		}
		att := swarm.NetworkAttachmentConfig{Target: target}
		if !n.External {
			att.Aliases = []string{s.Name}
		}
		spec.TaskTemplate.Networks = append(spec.TaskTemplate.Networks, att)
	}
	d := s.Deploy
	if d == nil {
		d = &types.DeployConfig{}
	}
	for k, v := range d.Labels {
		labels[k] = v
	}
	spec.TaskTemplate.Placement = &swarm.Placement{Constraints: d.Placement.Constraints}
	if rp := d.RestartPolicy; rp != nil {
		spec.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{Condition: swarm.RestartPolicyCondition(rp.Condition), MaxAttempts: rp.MaxAttempts}
	}
	one := uint64(1)
	switch d.Mode {
	case "replicated-job":
		spec.Mode.ReplicatedJob = &swarm.ReplicatedJob{MaxConcurrent: &one, TotalCompletions: &one}
	default:
		spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &one}
	}
	ep := &swarm.EndpointSpec{Mode: swarm.ResolutionModeVIP}
	if d.EndpointMode == "dnsrr" {
		ep.Mode = swarm.ResolutionModeDNSRR
	}
	for _, pc := range s.Ports {
		var published uint32
		if _, err := fmt.Sscan(pc.Published, &published); err != nil && pc.Published != "" {
			return spec, fmt.Errorf("service %s: published port %q is not a number", s.Name, pc.Published)
		}
		mode := swarm.PortConfigPublishModeIngress
		if pc.Mode == "host" {
			mode = swarm.PortConfigPublishModeHost
		}
		ep.Ports = append(ep.Ports, swarm.PortConfig{Protocol: network.IPProtocol(orDefault(pc.Protocol, "tcp")), TargetPort: pc.Target, PublishedPort: published, PublishMode: mode})
	}
	spec.EndpointSpec = ep
	return spec, hashSpec(&spec)
}

// secretTarget is the file name of a secret in /run/secrets, as the docker CLI gives it: the secret's key when
// the stack file names no target. compose-go writes that default out as /run/secrets/<key>; the CLI's loader
// does not, and a different name is a different spec.
func secretTarget(ref types.ServiceSecretConfig) string {
	if ref.Target == "" || ref.Target == "/run/secrets/"+ref.Source {
		return ref.Source
	}
	return ref.Target
}

// hashSpec labels spec with the hash of everything else in it.
func hashSpec(spec *swarm.ServiceSpec) error {
	delete(spec.Labels, labelSpecHash)
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	spec.Labels[labelSpecHash] = hex.EncodeToString(sum[:])
	return nil
}

// configName is a config object's name, as `docker stack deploy` names it.
func configName(p *types.Project, key string) string {
	if c := p.Configs[key]; c.Name != "" && c.External {
		return c.Name
	}
	return p.Name + "_" + key
}

func configContent(p *types.Project, key string) ([]byte, error) {
	c := p.Configs[key]
	if c.Content != "" {
		return []byte(c.Content), nil
	}
	b, err := os.ReadFile(c.File)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", key, err)
	}
	return b, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
