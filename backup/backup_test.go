package backup_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/backup"
	"github.com/m2mnet/m2m/bundle"
	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/internal/testenv"
	"github.com/m2mnet/m2m/test/standin"
)

const dataFile = "/data/0_0.tigerbeetle"

// project is the part of the stack a backup touches: the ledger and the connector, each with its volume.
func project(name, image string) *types.Project {
	p := &types.Project{Name: name, Services: types.Services{}, Volumes: types.Volumes{}}
	for svc, vol := range map[string]string{"tigerbeetle": "tigerbeetle-data", "connector": "connector-data"} {
		s := types.ServiceConfig{Name: svc}
		s.Image = image
		s.Volumes = []types.ServiceVolumeConfig{{Type: types.VolumeTypeVolume, Source: vol, Target: "/data"}}
		p.Services[svc] = s
		p.Volumes[vol] = types.VolumeConfig{Name: name + "_" + vol}
	}
	return p
}

type fixture struct {
	t   *testing.T
	ctx context.Context
	cli *client.Client
}

// run creates a container of project p's service (labelled as Compose would) with cmd, starts it and, when
// wait, waits for it to exit 0.
func (f fixture) run(p *types.Project, service string, wait bool, cmd ...string) string {
	f.t.Helper()
	s := p.Services[service]
	var entrypoint []string
	if cmd[0] == "sh" { // the stand-in's entrypoint is /tigerbeetle
		entrypoint, cmd = []string{"/bin/sh"}, cmd[1:]
	}
	res, err := f.cli.ContainerCreate(f.ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: s.Image, Entrypoint: entrypoint, Cmd: cmd, Labels: map[string]string{
			deployer.LabelProject: p.Name, deployer.LabelService: service, deployer.LabelOneoff: "False"}},
		HostConfig: &container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: p.Volumes[s.Volumes[0].Source].Name, Target: "/data"}}},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		f.cli.ContainerRemove(context.Background(), res.ID, client.ContainerRemoveOptions{Force: true})
	})
	if _, err := f.cli.ContainerStart(f.ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		f.t.Fatal(err)
	}
	if wait {
		w := f.cli.ContainerWait(f.ctx, res.ID, client.ContainerWaitOptions{})
		select {
		case r := <-w.Result:
			if r.StatusCode != 0 {
				f.t.Fatalf("%s %v exited %d", service, cmd, r.StatusCode)
			}
		case err := <-w.Error:
			f.t.Fatal(err)
		}
	}
	return res.ID
}

// read returns the file at path in volume vol, through a container that is never started.
func (f fixture) read(image, vol, path string) []byte {
	f.t.Helper()
	res, err := f.cli.ContainerCreate(f.ctx, client.ContainerCreateOptions{Config: &container.Config{Image: image},
		HostConfig: &container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: vol, Target: "/data"}}}})
	if err != nil {
		f.t.Fatal(err)
	}
	defer f.cli.ContainerRemove(context.Background(), res.ID, client.ContainerRemoveOptions{Force: true})
	rc, err := f.cli.CopyFromContainer(f.ctx, res.ID, client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		f.t.Fatal(err)
	}
	defer rc.Content.Close()
	tr := tar.NewReader(rc.Content)
	if _, err := tr.Next(); err != nil {
		f.t.Fatal(err)
	}
	b, err := io.ReadAll(tr)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func (f fixture) running(id string) bool {
	st, err := f.cli.ContainerInspect(f.ctx, id, client.ContainerInspectOptions{})
	return err == nil && st.Container.State.Running
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func TestBackupRestoresTheLedgerIntoAFreshProject(t *testing.T) {
	testenv.NeedsEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	f := fixture{t, ctx, cli}
	id := fmt.Sprintf("m2mbk%d", time.Now().UnixNano())
	image := id + "/tigerbeetle:standin"
	if err := standin.BuildTigerBeetle(ctx, cli, image); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.ImageRemove(context.Background(), image, client.ImageRemoveOptions{Force: true}) })
	src, dst := project(id+"a", image), project(id+"b", image)
	for _, p := range []*types.Project{src, dst} {
		t.Cleanup(func() {
			for _, v := range p.Volumes {
				cli.VolumeRemove(context.Background(), v.Name, client.VolumeRemoveOptions{Force: true})
			}
		})
	}

	// The source stack: a formatted ledger that runs, a connector with state of its own.
	f.run(src, "tigerbeetle", true, "format", "--cluster=7", "--replica=0", "--replica-count=1", dataFile)
	ledger := f.run(src, "tigerbeetle", false, "start", "--addresses=0.0.0.0:3000", dataFile)
	conn := f.run(src, "connector", false, "sh", "-c", `echo state-1 > /data/state; trap "exit 0" TERM; while true; do sleep 1; done`)
	testenv.WaitFor(t, time.Minute, "the connector's state file", func() bool {
		_, err := cli.ContainerStatPath(ctx, conn, client.ContainerStatPathOptions{Path: "/data/state"})
		return err == nil
	})
	want := sum(f.read(image, src.Volumes["tigerbeetle-data"].Name, dataFile))

	file := filepath.Join(t.TempDir(), "backup.tar")
	res, err := backup.Backup(ctx, cli, src, file, backup.Options{
		Stop: []string{"connector", "tigerbeetle"}, Volumes: []string{"tigerbeetle-data", "connector-data"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("backup: %d bytes, stopped %v for %s", res.Bytes, res.Stopped, res.Downtime)
	if len(res.Stopped) != 2 || !f.running(ledger) || !f.running(conn) {
		t.Fatalf("stopped %v; running after backup: ledger %v, connector %v", res.Stopped, f.running(ledger), f.running(conn))
	}

	// Change the source's ledger after the backup: the restore must bring back the backup's bytes.
	f.run(src, "tigerbeetle", true, "sh", "-c", "echo later >> "+dataFile)
	if sum(f.read(image, src.Volumes["tigerbeetle-data"].Name, dataFile)) == want {
		t.Fatal("the change after the backup did not change the data file")
	}

	opts := backup.RestoreOptions{SameImage: []string{"tigerbeetle"}, Sentinel: map[string]string{"tigerbeetle-data": "0_0.tigerbeetle"}}
	start := time.Now()
	if _, err := backup.Restore(ctx, cli, dst, file, opts, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("restore into a fresh project: %s", time.Since(start))
	if got := sum(f.read(image, dst.Volumes["tigerbeetle-data"].Name, dataFile)); got != want {
		t.Fatalf("restored data file sha256 %s, backed up %s", got, want)
	}
	if got := f.read(image, dst.Volumes["connector-data"].Name, "/data/state"); string(got) != "state-1\n" {
		t.Fatalf("restored connector state %q", got)
	}

	t.Run("a ledger volume with data is refused without force", func(t *testing.T) {
		_, err := backup.Restore(ctx, cli, dst, file, opts, nil)
		var ne *backup.NotEmptyError
		if !errors.As(err, &ne) || ne.Volume != dst.Volumes["tigerbeetle-data"].Name {
			t.Fatalf("got %v, want NotEmptyError for %s", err, dst.Volumes["tigerbeetle-data"].Name)
		}
		forced := opts
		forced.Force = true
		if _, err := backup.Restore(ctx, cli, dst, file, forced, nil); err != nil {
			t.Fatalf("with force: %v", err)
		}
	})
	t.Run("a running stack is refused", func(t *testing.T) {
		forced := opts
		forced.Force = true
		_, err := backup.Restore(ctx, cli, src, file, forced, nil)
		if !errors.As(err, new(*backup.RunningError)) {
			t.Fatalf("got %v, want RunningError", err)
		}
	})
	t.Run("another ledger release is refused", func(t *testing.T) {
		other := project(dst.Name, "ghcr.io/tigerbeetle/tigerbeetle:0.18.0")
		_, err := backup.Restore(ctx, cli, other, file, opts, nil)
		var re *backup.ReleaseMismatchError
		if !errors.As(err, &re) || re.Backup != image {
			t.Fatalf("got %v, want ReleaseMismatchError naming %s", err, image)
		}
	})
	t.Run("a modified backup is refused", func(t *testing.T) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		at := bytes.Index(b, []byte("state-1"))
		b[at] = 'X'
		bad := filepath.Join(t.TempDir(), "bad.tar")
		os.WriteFile(bad, b, 0o600)
		forced := opts
		forced.Force = true
		if _, err := backup.Restore(ctx, cli, dst, bad, forced, nil); !errors.Is(err, bundle.ErrCorrupt) {
			t.Fatalf("got %v, want a corrupt archive", err)
		}
	})
}
