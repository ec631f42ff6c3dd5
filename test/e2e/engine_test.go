package e2e

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/stack"
)

// labelHelper marks the helper containers a scenario runs next to its stack, so the sweep finds them too.
// They do not carry Compose's project label: they are not services of the stack and status must not see them.
const labelHelper = "io.m2m.e2e.project"

// sweep removes every container, network and volume of project, and every helper container of the scenario;
// it returns the names of the stack's leftovers.
func sweep(ctx context.Context, cli *dockerClient, project string) []string {
	var left []string
	for _, label := range []string{deployer.LabelProject, labelHelper} {
		f := make(client.Filters).Add("label", label+"="+project)
		cs, _ := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
		for _, c := range cs.Items {
			if label == deployer.LabelProject {
				left = append(left, "container "+c.ID[:12])
			}
			cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		}
	}
	f := make(client.Filters).Add("label", deployer.LabelProject+"="+project)
	nets, _ := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	for _, n := range nets.Items {
		left = append(left, "network "+n.Name)
		cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
	}
	vols, _ := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	for _, v := range vols.Items {
		left = append(left, "volume "+v.Name)
		cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
	}
	return left
}

func (p *project) observe(ctx context.Context) (*deployer.Observed, error) {
	return deployer.New(env.cli).Observe(ctx, p.name)
}

// container returns the one container of service, as the deployer observes it.
func (p *project) container(service string) deployer.Container {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	obs, err := p.observe(ctx)
	if err != nil {
		p.t.Fatalf("observe project %s: %v", p.name, err)
	}
	cs := obs.Containers[service]
	if len(cs) != 1 {
		p.t.Fatalf("project %s has %d containers of service %s, want 1", p.name, len(cs), service)
	}
	return cs[0]
}

// volumes lists the project's volumes by their key in the stack (tigerbeetle-data, …).
func (p *project) volumes() map[string]bool {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	obs, err := deployer.New(env.cli).Observe(ctx, p.name)
	if err != nil {
		p.t.Fatalf("observe project %s: %v", p.name, err)
	}
	out := map[string]bool{}
	for _, v := range obs.Volumes {
		out[v.Labels[deployer.LabelVolume]] = true
	}
	return out
}

// hostAddr is where the host reaches port ("8080/tcp") of service, as Docker published it.
func (p *project) hostAddr(service, port string) string {
	p.t.Helper()
	addr, err := p.lookupAddr(service, port)
	if err != nil {
		p.t.Fatal(err)
	}
	return addr
}

// lookupAddr is hostAddr for polling: an error rather than a failed test while a container restarts.
func (p *project) lookupAddr(service, port string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	obs, err := p.observe(ctx)
	if err != nil {
		return "", err
	}
	for _, c := range obs.Containers[service] {
		for _, pp := range c.Ports {
			if pp.Target == port {
				return pp.Addr(), nil
			}
		}
	}
	return "", fmt.Errorf("service %s of project %s publishes no host port for %s now", service, p.name, port)
}

func (p *project) volumeName(key string) string { return p.name + "_" + key }

// helper runs a short-lived container of image next to the stack, labelled for the sweep.
func (p *project) helper(ctx context.Context, image string, opts ...testcontainers.ContainerCustomizer) *testcontainers.DockerContainer {
	p.t.Helper()
	opts = append([]testcontainers.ContainerCustomizer{testcontainers.WithLogger(tclog.TestLogger(p.t)),
		testcontainers.WithLabels(map[string]string{labelHelper: p.name})}, opts...)
	c, err := testcontainers.Run(ctx, image, opts...)
	testcontainers.CleanupContainer(p.t, c)
	if err != nil {
		p.t.Fatalf("helper container of %s: %v", image, err)
	}
	return c
}

// dataFile reads the TigerBeetle data file out of the project's volume through the engine API, on a created,
// never-started helper container: nothing runs, nothing writes. ok is false when the file is not there.
func (p *project) dataFile(path string) (sum string, size int64, ok bool) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := p.helper(ctx, env.images.TigerBeetle, testcontainers.WithNoStart(),
		testcontainers.WithMounts(testcontainers.VolumeMount(p.volumeName(stack.VolumeTigerBeetle), "/data")))
	// Gone at once: a helper holding the volume would keep `down --volumes` from removing it.
	defer testcontainers.TerminateContainer(c)
	return fileSum(ctx, p.t, c.GetContainerID(), path)
}

// fileSumOf is fileSum with its own deadline.
func fileSumOf(t testing.TB, id, path string) (string, int64, bool) {
	t.Helper()
	ctx, cancel := contextWithTimeout(time.Minute)
	defer cancel()
	return fileSum(ctx, t, id, path)
}

// fileSum is the SHA-256 and size of path in container id, read with CopyFromContainer.
func fileSum(ctx context.Context, t testing.TB, id, path string) (string, int64, bool) {
	t.Helper()
	res, err := env.cli.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return "", 0, false
		}
		t.Fatalf("copy %s out of container %s: %v", path, id[:12], err)
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	hdr, err := tr.Next()
	if err != nil {
		t.Fatalf("read the archive of %s: %v", path, err)
	}
	h := sha256.New()
	n, err := io.Copy(h, tr)
	if err != nil || n != hdr.Size {
		t.Fatalf("read %s: %d of %d bytes: %v", path, n, hdr.Size, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, true
}

// kill9 sends SIGKILL to the main process of container id, as `kill -9` on the host would: a helper container
// in the host's PID namespace does it, so this works for a remote engine too. (`docker kill` would not do:
// the engine counts it as a manual stop and the restart policy would not apply.)
func (p *project) kill9(id string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := env.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil || res.Container.State == nil || res.Container.State.Pid == 0 {
		p.t.Fatalf("inspect container %s for its PID: %v", id[:12], err)
	}
	pid := strconv.Itoa(res.Container.State.Pid)
	c := p.helper(ctx, env.images.TigerBeetle,
		testcontainers.WithEntrypoint("/bin/sh", "-c", "kill -9 "+pid),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) { hc.PidMode = "host" }),
		testcontainers.WithWaitStrategy(wait.ForExit().WithExitTimeout(30*time.Second)))
	defer testcontainers.TerminateContainer(c)
	st, err := c.State(ctx)
	if err != nil || st.ExitCode != 0 {
		p.t.Fatalf("kill -9 %s (container %s) from a helper in the host PID namespace: exit %v, %v", pid, id[:12], st, err)
	}
}

// eventually calls check until it returns nil or timeout passes; then the test fails with what and the last error.
func eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	eventuallyEvery(t, timeout, 500*time.Millisecond, what, check)
}

// eventuallyEvery is eventually with its own polling interval, for states that last only a moment.
func eventuallyEvery(t *testing.T, timeout, every time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(every)
	}
}

// get fetches url and returns the status code and body.
func get(url string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, body, err
}

// wantStatus is a check for eventually: GET url answers code.
func wantStatus(url string, code int) func() error {
	return func() error {
		got, body, err := get(url)
		if err != nil {
			return err
		}
		if got != code {
			return fmt.Errorf("GET %s: %d, want %d: %.200s", url, got, code, body)
		}
		return nil
	}
}
