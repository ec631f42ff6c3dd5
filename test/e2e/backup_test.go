package e2e

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

// fresh is another project in an empty directory of its own, e.g. on the host a backup is restored on; it is
// taken down with its volumes when the test ends.
func (p *project) fresh() *project {
	dir := p.t.TempDir()
	q := &project{t: p.t, name: "m2me2e-" + randomHex(4), dir: dir, envFile: filepath.Join(dir, ".env"), profiles: p.profiles}
	p.t.Cleanup(q.teardown)
	return q
}

// ballast writes a file of size bytes, owned by the connector's user, into the project's volume key, so
// that a copy of it takes a while: long enough to interrupt.
func (p *project) ballast(key string, size int) {
	p.t.Helper()
	ctx, cancel := contextWithTimeout(3 * time.Minute)
	defer cancel()
	res, err := env.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: env.images.TigerBeetle,
		Labels: map[string]string{labelHelper: p.name}},
		HostConfig: &container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: p.volumeName(key), Target: "/data"}}}})
	if err != nil {
		p.t.Fatal(err)
	}
	defer env.cli.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "ballast", Mode: 0o600, Size: int64(size), Uid: 1001, Gid: 1001, ModTime: time.Now()})
	tw.Write(bytes.Repeat([]byte("m2m ballast\n"), size/12+1)[:size])
	tw.Close()
	if _, err := env.cli.CopyToContainer(ctx, res.ID, client.CopyToContainerOptions{DestinationPath: "/data", Content: &buf}); err != nil {
		p.t.Fatal(err)
	}
}

func partials(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".*.partial"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBackupKilledMidCopyLeavesTheStackRunningAndNoHalfFile(t *testing.T) {
	wallTime(t)
	p := newProject(t, projectOptions{})
	p.up()
	p.requireHealthy(running...)
	const size = 96 << 20
	p.ballast(stack.VolumeConnector, size)

	out := filepath.Join(t.TempDir(), "interrupted.tar")
	cmd := exec.Command(env.m2mctl, "backup", "--output", out, "-p", p.name, "--env-file", p.envFile)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The event: the archive is growing past the ledger's data file, so the connector's volume is being
	// copied, with both services stopped.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if m := partials(t, filepath.Dir(out)); len(m) == 1 {
			if st, err := os.Stat(m[0]); err == nil && st.Size() > 8<<20 {
				break
			}
		}
		if _, err := os.Stat(out); err == nil || time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the backup finished (or never copied 8 MiB in 3 min) before it could be interrupted:\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait() // also waits for the guard, which shares stderr
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("m2mctl backup was not killed mid-copy: %v\n%s", cmd.ProcessState, stderr.String())
	}
	t.Logf("m2mctl backup killed mid-copy; its guard said:\n%s", stderr.String())

	p.waitHealthy(3*time.Minute, "the stack healthy again after the killed backup")
	if _, err := os.Stat(out); err == nil {
		t.Errorf("the killed backup left %s", out)
	}
	if m := partials(t, filepath.Dir(out)); len(m) > 0 {
		t.Errorf("the killed backup left a half file: %v", m)
	}
	for _, want := range []string{"interrupted", "Removed its partial archive", "Started " + settings.ServiceTigerBeetle + " again",
		"Started " + settings.ServiceConnector + " again"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the guard did not say %q:\n%s", want, stderr.String())
		}
	}
}

// waitHealthy waits until `m2mctl status` says every service is healthy: services started again by a backup
// are "starting" until their first health check.
func (p *project) waitHealthy(timeout time.Duration, what string) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, code := p.status(); code == 0 {
			p.requireHealthy(running...)
			return
		}
		if time.Now().After(deadline) {
			p.requireHealthy(running...) // fails with the status and logs
			p.t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func TestBackupThenRestoreIntoAFreshProjectGivesTheSameLedger(t *testing.T) {
	wallTime(t)
	p := newProject(t, projectOptions{})
	p.up()
	p.requireHealthy(running...)
	file := filepath.Join(t.TempDir(), "node.tar")

	pass := filepath.Join(t.TempDir(), "backup.pass")
	if err := os.WriteFile(pass, []byte("a passphrase for the e2e backup\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := watchReady(p)
	start := time.Now()
	p.mustCtl(5*time.Minute, "backup", "--output", file, "--with-monitoring", "--env-passphrase-file", pass)
	took := time.Since(start)
	down, failed, samples := w.endWhenReady(t, 3*time.Minute)
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("backup: %d bytes in %s; /health/ready not 200 for %s (%d of %d samples)", st.Size(), took.Round(10*time.Millisecond),
		down.Round(10*time.Millisecond), failed, samples)
	if failed == 0 {
		t.Error("the watch never saw the connector down during the backup, which stops it: it does not measure")
	}
	p.waitHealthy(3*time.Minute, "the stack healthy again after the backup")
	want, _, _ := p.dataFile(stack.DataFile)

	// What the ledger holds after the backup is not in it: write to the data file behind its back.
	ctx, cancel := contextWithTimeout(2 * time.Minute)
	defer cancel()
	p.mustCtl(2*time.Minute, "down")
	c := p.helper(ctx, env.images.TigerBeetle,
		testcontainers.WithMounts(testcontainers.VolumeMount(p.volumeName(stack.VolumeTigerBeetle), "/data")),
		testcontainers.WithEntrypoint("/bin/sh", "-c", "echo later >> "+stack.DataFile),
		testcontainers.WithWaitStrategy(wait.ForExit().WithExitTimeout(time.Minute)))
	testcontainers.TerminateContainer(c) // it holds the volume
	if got, _, _ := p.dataFile(stack.DataFile); got == want && !env.images.RealTigerBeetle {
		t.Fatal("writing to the data file did not change its checksum")
	}

	if b, _ := os.ReadFile(file); bytes.Contains(b, []byte(settings.GrafanaPassword+"=")) {
		t.Error("the backup holds the .env readable")
	}

	// A new host: no .env, the backup brings it back with the passphrase.
	fresh := p.fresh()
	start = time.Now()
	r := fresh.mustCtl(6*time.Minute, "restore", file, "--env-passphrase-file", pass)
	t.Logf("restore into a fresh project (then up): %s", time.Since(start).Round(10*time.Millisecond))
	if !strings.Contains(r.stderr, "Restored 4 volume(s)") || !strings.Contains(r.stderr, "Wrote "+fresh.envFile) {
		t.Errorf("restore did not say it wrote the .env and the 4 volumes:\n%s", r.stderr)
	}
	orig, _ := os.ReadFile(p.envFile)
	if got, err := os.ReadFile(fresh.envFile); err != nil || !bytes.Equal(got, orig) {
		t.Errorf("the restored .env differs from the one backed up (%v)", err)
	}
	if st, err := os.Stat(fresh.envFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the restored .env: %v, want mode 0600", st)
	}
	fresh.requireHealthy(running...)
	if got, _, ok := fresh.dataFile(stack.DataFile); !ok || (got != want && !env.images.RealTigerBeetle) {
		t.Errorf("restored data file sha256 %s, backed up %s", got, want)
	}

	r = p.ctl(3*time.Minute, "restore", file)
	if r.code != 1 || !strings.Contains(r.stderr, "already holds a ledger") || !strings.Contains(r.stderr, "--force") {
		t.Errorf("restore over a ledger with data, without --force: exit %d, want 1 naming --force:\n%s", r.code, r.stderr)
	}
	if got, _, _ := p.dataFile(stack.DataFile); got == want && !env.images.RealTigerBeetle {
		t.Error("a refused restore wrote the data file")
	}
}
