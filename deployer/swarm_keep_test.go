package deployer

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/moby/moby/api/types/swarm"

	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

// What the engine gives back for a spec it was sent (the shape seen on Docker 20.10): network ids for names,
// its defaults written in, empty values as it keeps them, and no m2mctl label when the docker CLI sent it.
func engineEcho(t *testing.T, spec swarm.ServiceSpec, networkID string) swarm.ServiceSpec {
	t.Helper()
	var out swarm.ServiceSpec
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	delete(out.Labels, labelSpecHash)
	out.TaskTemplate.ContainerSpec.Isolation = "default"
	out.TaskTemplate.Runtime = "container"
	zero := uint64(0)
	if out.TaskTemplate.RestartPolicy != nil && out.TaskTemplate.RestartPolicy.MaxAttempts == nil {
		out.TaskTemplate.RestartPolicy.MaxAttempts = &zero
	}
	for i := range out.TaskTemplate.Networks {
		out.TaskTemplate.Networks[i].Target = networkID
	}
	return out
}

func TestSwarmServiceOfAnotherToolIsKeptOnlyWhenItAsksForTheSame(t *testing.T) {
	v := settings.Defaults()
	for k, val := range map[string]string{settings.DeployTarget: settings.TargetSwarm, settings.TigerBeetleReplicaCount: "3",
		settings.TigerBeetleReplicaAddresses: "10.77.0.2:3000,10.77.0.3:3000,10.77.0.4:3000", settings.GrafanaPassword: "x", settings.TigerBeetleClusterID: "7"} {
		v[k] = val
	}
	p, err := stack.SwarmStack(context.Background(), v, stack.LoadOptions{WorkingDir: t.TempDir(), Environment: v})
	if err != nil {
		t.Fatal(err)
	}
	refs := swarmRefs{secrets: map[string]string{}, configs: map[string]string{}}
	for key := range p.Secrets {
		refs.secrets[key] = "secret-" + key
	}
	for key := range p.Configs {
		refs.configs[key] = "config-" + key
	}
	want, err := serviceSpecFor(p, p.Services[settings.ServiceGrafana], refs)
	if err != nil {
		t.Fatal(err)
	}
	networks := map[string]string{"n0id": p.Name + "_" + stack.NetworkName}
	if !sameSpec(engineEcho(t, want, "n0id"), want, networks) {
		t.Fatal("the engine's echo of the same spec is judged different")
	}
	if len(want.TaskTemplate.ContainerSpec.Configs) < 2 || want.TaskTemplate.ContainerSpec.Secrets[0].File.Name != stack.SecretGrafanaPassword {
		t.Fatalf("grafana's configs %d, secret file %+v: want several configs and the secret named by its key, as the docker CLI names it",
			len(want.TaskTemplate.ContainerSpec.Configs), want.TaskTemplate.ContainerSpec.Secrets[0].File)
	}
	changes := map[string]func(*swarm.ServiceSpec){
		"an environment variable": func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Env = append(s.TaskTemplate.ContainerSpec.Env, "X=1")
		},
		"read-only dropped": func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.ReadOnly = !s.TaskTemplate.ContainerSpec.ReadOnly
		},
		"the image":                func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Image += "-2" },
		"another network":          func(s *swarm.ServiceSpec) { s.TaskTemplate.Networks[0].Target = "n1id" },
		"the order of its configs": func(s *swarm.ServiceSpec) { c := s.TaskTemplate.ContainerSpec.Configs; c[0], c[1] = c[1], c[0] },
		"a secret object":          func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Secrets[0].SecretID = "other" },
		"a placement":              func(s *swarm.ServiceSpec) { s.TaskTemplate.Placement.Constraints = []string{"node.role==manager"} },
	}
	for name, change := range changes {
		have := engineEcho(t, want, "n0id")
		change(&have)
		if sameSpec(have, want, map[string]string{"n0id": networks["n0id"], "n1id": "other"}) {
			t.Errorf("a service differing in %s is judged the same", name)
		}
	}
}
