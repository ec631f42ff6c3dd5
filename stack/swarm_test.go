package stack

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/stack/settings"
	"github.com/m2mnet/m2m/stack/settings/settingstest"
)

var swarmSample = map[string]string{
	settings.DeployTarget: settings.TargetSwarm, settings.TigerBeetleReplicaCount: "3",
	settings.TigerBeetleReplicaAddresses: "10.77.0.2:3000,10.77.0.3:3000,10.77.0.4:3000",
}

func TestSwarmStackPinsReplicasAndTheEdge(t *testing.T) {
	p, err := SwarmProject(sampleWith(t, swarmSample), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		place := fmt.Sprintf("node.labels.io.m2m.tigerbeetle.replica==%d", i)
		for _, name := range []string{ReplicaService(i), ReplicaFormatService(i)} {
			s, err := p.GetService(name)
			if err != nil {
				t.Fatal(err)
			}
			if c := s.Deploy.Placement.Constraints; len(c) != 1 || c[0] != place {
				t.Errorf("%s placed by %v, want %s", name, c, place)
			}
			if _, ok := s.Networks[hostNetwork]; !ok || len(s.Networks) != 1 {
				t.Errorf("%s networks %v, want only the host network", name, s.Networks)
			}
		}
		f, _ := p.GetService(ReplicaFormatService(i))
		if f.Deploy.Mode != "replicated-job" || f.Labels[LabelDoneIfExists] != ReplicaDataFile(i) {
			t.Errorf("%s: mode %q, label %q", f.Name, f.Deploy.Mode, f.Labels[LabelDoneIfExists])
		}
	}
	for name, s := range p.Services {
		if s.Deploy == nil || s.Deploy.EndpointMode != "dnsrr" || len(s.DependsOn) > 0 || s.Restart != "" {
			t.Errorf("%s: deploy %+v, depends_on %v, restart %q", name, s.Deploy, s.DependsOn, s.Restart)
		}
	}
	c, _ := p.GetService(settings.ServiceConnector)
	if len(c.Ports) != 1 || c.Ports[0].Mode != "host" || c.Ports[0].Target != ContainerBTPPort {
		t.Errorf("connector ports %+v, want only BTP in host mode", c.Ports)
	}
	if c.Deploy.Placement.Constraints[0] != "node.labels.io.m2m.edge==true" {
		t.Errorf("connector placed by %v", c.Deploy.Placement.Constraints)
	}
	if _, ok := c.Environment[settings.NodePrivateKey]; ok || c.Environment[settings.NodePrivateKey+settings.FileSuffix] == nil {
		t.Errorf("connector gets the node key as %v, want only NODE_PRIVATE_KEY_FILE", c.Environment)
	}
	g, _ := p.GetService(settings.ServiceGrafana)
	if _, ok := g.Environment["GF_SECURITY_ADMIN_PASSWORD"]; ok || g.Environment["GF_SECURITY_ADMIN_PASSWORD__FILE"] == nil {
		t.Error("grafana's password is an environment variable")
	}
	if p.Secrets[SecretGrafanaPassword].Name != "m2m_grafana_password" || !bool(p.Secrets[SecretGrafanaPassword].External) {
		t.Errorf("grafana secret %+v", p.Secrets[SecretGrafanaPassword])
	}
	y, err := SwarmYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings.Schema() {
		if s.Secret && settingstest.Sample()[s.Name] != "" && bytes.Contains(y, []byte(settingstest.Sample()[s.Name])) {
			t.Errorf("stack file holds the value of secret %s", s.Name)
		}
	}
}

// The docker CLI's own loader (`docker stack config`, no engine needed) accepts the stack file, interpolated
// from the .env's values as `docker stack deploy` would be.
func TestSwarmStackFileLoadsWithDockerStackConfig(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("no docker CLI on PATH: docker stack config cannot check the stack file")
	}
	p, err := SwarmProject(sampleWith(t, swarmSample), nil)
	if err != nil {
		t.Fatal(err)
	}
	y, err := SwarmYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "stack.yml")
	if err := os.WriteFile(file, y, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(docker, "stack", "config", "-c", file)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	for k, v := range settingstest.Sample() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range swarmSample {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker stack config: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--addresses=10.77.0.2:3000,10.77.0.3:3000,10.77.0.4:3000") {
		t.Errorf("the replicas' addresses did not reach the stack:\n%s", out)
	}
}
