package e2e

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/internal/testenv"
	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
	"github.com/m2mnet/m2m/templates"
	"github.com/m2mnet/m2m/test/standin/evmnode"
)

// swarmProject is a project deployed to a test swarm of n namespaced engines: replica i is on node i, the
// edge (connector, monitoring, BTP) on node 0, the test's images loaded into every node.
type swarmProject struct {
	*project
	swarm *testenv.Swarm
}

func newSwarmProject(t *testing.T, replicas int) *swarmProject {
	t.Helper()
	s := testenv.NewSwarm(t, replicas)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := s.LoadImages(ctx, env.images.Connector, env.images.TigerBeetle, env.images.Prometheus, env.images.Grafana); err != nil {
		t.Fatal(err)
	}
	addrs := make([]string, replicas)
	for i, n := range s.Nodes {
		addrs[i] = n.IP + ":3000"
		labels := map[string]string{stack.NodeLabelReplica: fmt.Sprint(i)}
		if i == 0 {
			labels[stack.NodeLabelEdge] = "true"
		}
		if err := s.LabelNode(ctx, i, labels); err != nil {
			t.Fatal(err)
		}
	}
	// The EVM stand-in where the nodes reach this machine.
	evm, err := evmnode.Listen(net.JoinHostPort(s.Gateway, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { evm.Close() })
	p := newProject(t, projectOptions{settings: map[string]string{
		settings.BaseRPCURL:   evm.URL,
		settings.DeployTarget: settings.TargetSwarm, settings.TigerBeetleReplicaCount: fmt.Sprint(replicas),
		settings.TigerBeetleReplicaAddresses: strings.Join(addrs, ","), settings.ProjectName: "",
	}})
	p.set(map[string]string{settings.ProjectName: p.name, settings.BTPPort: fmt.Sprint(testenv.FreePort(t))})
	// The swarm goes away with its engines, volumes included (NewSwarm's cleanup); the project's own teardown,
	// which runs first, then only sweeps this machine's engine, where nothing of the stack is.
	t.Cleanup(func() { p.set(map[string]string{settings.DeployTarget: settings.TargetCompose}) })
	return &swarmProject{project: p, swarm: s}
}

// stackDeploy writes the stack file with `m2mctl config --target swarm` and deploys it with the docker CLI
// against the manager, waiting until the services converge, as an operator without m2mctl would.
func (p *swarmProject) stackDeploy(t testing.TB) {
	t.Helper()
	if _, err := templates.Materialize(p.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(p.dir, stack.ConfigDir), 0o755); err != nil {
		t.Fatal(err)
	}
	r := p.mustCtl(time.Minute, "config", "--target", "swarm")
	file := filepath.Join(p.dir, "stack.yml")
	if err := os.WriteFile(file, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	values, err := settings.Load(p.envFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for key, setting := range map[string]string{stack.SecretGrafanaPassword: settings.GrafanaPassword, stack.SecretNodeKey: settings.NodePrivateKey} {
		if values.String(setting) == "" {
			continue
		}
		if _, err := p.swarm.Manager().Client.SecretCreate(ctx, client.SecretCreateOptions{Spec: swarm.SecretSpec{
			Annotations: swarm.Annotations{Name: p.name + "_" + key}, Data: []byte(values.String(setting))}}); err != nil && !cerrdefs.IsConflict(err) && !cerrdefs.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	// docker stack deploy reads no .env: the operator exports it (set -a; . ./.env).
	cmd := exec.CommandContext(ctx, "docker", "-H", p.swarm.Manager().Host, "stack", "deploy", "--detach=false",
		"--resolve-image", "never", "-c", file, p.name)
	cmd.Dir = p.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + p.dir}
	for k, v := range values {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker stack deploy: %v\n%s\n%s", err, lastLines(string(out), 10), p.taskReport())
	}
	t.Logf("docker stack deploy → converged in %s", time.Since(start).Round(100*time.Millisecond))
}

// tasks lists the tasks of the stack's service.
func (p *swarmProject) tasks(ctx context.Context, service string) []swarm.Task {
	p.t.Helper()
	res, err := p.swarm.Manager().Client.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", p.name+"_"+service)})
	if err != nil {
		p.t.Fatal(err)
	}
	return res.Items
}

// nodeOf returns the index of the test node with swarm id id, or -1.
func (p *swarmProject) nodeOf(id string) int {
	for _, n := range p.swarm.Nodes {
		if n.ID == id {
			return n.Index
		}
	}
	return -1
}

// taskReport says, for a failure message, every task of the stack: service, node, state and error.
func (p *swarmProject) taskReport() string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := p.swarm.Manager().Client.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("label", "com.docker.stack.namespace="+p.name)})
	if err != nil {
		return err.Error()
	}
	services := map[string]string{}
	if sl, err := p.swarm.Manager().Client.ServiceList(ctx, client.ServiceListOptions{}); err == nil {
		for _, s := range sl.Items {
			services[s.ID] = s.Spec.Name
		}
	}
	var b strings.Builder
	for _, task := range res.Items {
		fmt.Fprintf(&b, "%s on node %d: %s %s %s\n", services[task.ServiceID], p.nodeOf(task.NodeID), task.Status.State, task.Status.Message, task.Status.Err)
	}
	for id, name := range services {
		if !strings.HasSuffix(name, "_"+settings.ServiceConnector) {
			continue
		}
		logs, err := p.swarm.Manager().Client.ServiceLogs(ctx, id, client.ServiceLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "15"})
		if err != nil {
			continue
		}
		raw, _ := io.ReadAll(logs)
		logs.Close()
		fmt.Fprintf(&b, "%s logs:\n%s\n", name, raw)
	}
	return b.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// replicaSum is the SHA-256 of replica i's data file, read on its node through a created, never-started
// container that mounts the replica's volume; "" when there is no file.
func (p *swarmProject) replicaSum(i int) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli := p.swarm.Nodes[i].Client
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: env.images.TigerBeetle},
		HostConfig: &container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume,
			Source: p.name + "_" + stack.ReplicaVolume(i), Target: "/data", ReadOnly: true}}},
	})
	if err != nil {
		p.t.Fatalf("look into replica %d's volume: %v", i, err)
	}
	defer cli.ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{Force: true})
	res, err := cli.CopyFromContainer(ctx, created.ID, client.CopyFromContainerOptions{SourcePath: stack.ReplicaDataFile(i)})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return ""
		}
		p.t.Fatalf("copy replica %d's data file: %v", i, err)
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	if _, err := tr.Next(); err != nil {
		p.t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, tr); err != nil {
		p.t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// mustSwarmCtl is swarmCtl that fails the test unless m2mctl exits 0, showing the stack's tasks.
func (p *swarmProject) mustSwarmCtl(timeout time.Duration, args ...string) result {
	p.t.Helper()
	r := p.swarmCtl(timeout, args...)
	if r.code != 0 {
		p.t.Fatalf("m2mctl %s: exit %d\nstderr:\n%s\nstdout:\n%s\n%s", strings.Join(args, " "), r.code, lastLines(r.stderr, 30), r.stdout, p.taskReport())
	}
	return r
}

// swarmCtl runs m2mctl against the swarm's manager.
func (p *swarmProject) swarmCtl(timeout time.Duration, args ...string) result {
	p.t.Helper()
	old, had := os.LookupEnv("DOCKER_HOST")
	os.Setenv("DOCKER_HOST", p.swarm.Manager().Host)
	defer func() {
		if had {
			os.Setenv("DOCKER_HOST", old)
		} else {
			os.Unsetenv("DOCKER_HOST")
		}
	}()
	return p.ctl(timeout, args...)
}

// services returns the stack's services by name, with their versions.
func (p *swarmProject) serviceVersions(ctx context.Context) map[string]uint64 {
	p.t.Helper()
	res, err := p.swarm.Manager().Client.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", "com.docker.stack.namespace="+p.name)})
	if err != nil {
		p.t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, s := range res.Items {
		out[strings.TrimPrefix(s.Spec.Name, p.name+"_")] = s.Version.Index
	}
	return out
}

// checkPlacement checks that replica i runs on node i only, its format ran once there, and the edge
// services run on node 0.
func (p *swarmProject) checkPlacement(ctx context.Context, replicas int) {
	p.t.Helper()
	for i := range replicas {
		var running []swarm.Task
		for _, task := range p.tasks(ctx, stack.ReplicaService(i)) {
			if task.Status.State == swarm.TaskStateRunning {
				running = append(running, task)
			}
		}
		if len(running) != 1 || p.nodeOf(running[0].NodeID) != i {
			p.t.Errorf("replica %d: running tasks on nodes %v, want one on node %d", i, taskNodes(p, running), i)
		}
		formats := p.tasks(ctx, stack.ReplicaFormatService(i))
		if len(formats) != 1 || formats[0].Status.State != swarm.TaskStateComplete || p.nodeOf(formats[0].NodeID) != i {
			p.t.Errorf("format of replica %d: tasks on nodes %v in states %v, want one complete on node %d", i, taskNodes(p, formats), taskStates(formats), i)
		}
	}
	for _, service := range []string{settings.ServiceConnector, settings.ServicePrometheus, settings.ServiceGrafana} {
		tasks := p.tasks(ctx, service)
		ok := false
		for _, task := range tasks {
			ok = ok || task.Status.State == swarm.TaskStateRunning && p.nodeOf(task.NodeID) == 0
		}
		if !ok {
			p.t.Errorf("%s: no running task on the edge node (states %v)", service, taskStates(tasks))
		}
	}
}

// swarmStatus is status() against the swarm's manager.
func (p *swarmProject) swarmStatus() (statusReport, int) {
	p.t.Helper()
	r := p.swarmCtl(time.Minute, "status", "-o", "json")
	var rep statusReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		p.t.Fatalf("m2mctl status -o json (exit %d) printed no JSON report: %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	return rep, r.code
}

// stackRemove is `docker stack rm`, then waits until every task ended and the network is gone, as m2mctl
// down does before it returns.
func (p *swarmProject) stackRemove(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "-H", p.swarm.Manager().Host, "stack", "rm", p.name).CombinedOutput(); err != nil {
		t.Fatalf("docker stack rm: %v\n%s", err, out)
	}
	mgr := p.swarm.Manager().Client
	testenv.WaitFor(t, 3*time.Minute, "the stack's tasks and network to go", func() bool {
		tasks, err := mgr.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("label", "com.docker.stack.namespace="+p.name)})
		nets, err2 := mgr.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("label", "com.docker.stack.namespace="+p.name)})
		if err != nil || err2 != nil {
			return false
		}
		for _, task := range tasks.Items {
			switch task.Status.State {
			case swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateFailed, swarm.TaskStateRejected, swarm.TaskStateOrphaned:
			default:
				return false
			}
		}
		return len(nets.Items) == 0
	})
}

// removeVolumes removes the stack's volumes on every node, through each node's own engine (a manager cannot).
func (p *swarmProject) removeVolumes(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, n := range p.swarm.Nodes {
		vols, err := n.Client.VolumeList(ctx, client.VolumeListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vols.Items {
			if strings.HasPrefix(v.Name, p.name+"_") {
				// The swarm keeps the stopped containers of ended tasks for a while; they still hold the volume.
				testenv.WaitFor(t, time.Minute, "volume "+v.Name+" to be free", func() bool {
					if cs, err := n.Client.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("volume", v.Name)}); err == nil {
						for _, c := range cs.Items {
							n.Client.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
						}
					}
					_, err := n.Client.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
					return err == nil || cerrdefs.IsNotFound(err)
				})
			}
		}
	}
}
