package backup

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/bundle"
	"github.com/m2mnet/m2m/deployer"
)

// RestoreOptions says what must hold before a restore overwrites anything.
type RestoreOptions struct {
	// SameImage are services whose image must be the one the backup was taken with (the ledger: its data
	// file is only read by the release that wrote it or a later one reached by supported steps).
	SameImage []string
	// Sentinel maps a volume key to a path relative to its mount whose presence means the volume holds data;
	// such a volume is only overwritten with Force.
	Sentinel map[string]string
	Force    bool
}

// NotEmptyError: a volume already holds data and Force was not given.
type NotEmptyError struct{ Volume, Path string }

func (e *NotEmptyError) Error() string {
	return fmt.Sprintf("volume %s already holds %s", e.Volume, e.Path)
}

// ReleaseMismatchError: the backup was taken with another image of a service than the project now uses.
type ReleaseMismatchError struct{ Service, Backup, Project string }

func (e *ReleaseMismatchError) Error() string {
	return fmt.Sprintf("service %s: the backup was taken with %s, the project uses %s", e.Service, e.Backup, e.Project)
}

// RunningError: a service that mounts a volume to restore is running.
type RunningError struct{ Service string }

func (e *RunningError) Error() string { return fmt.Sprintf("service %s is running", e.Service) }

// ReadMeta checks the archive at path against its seal (a *bundle.CorruptError if it fails) and returns what
// it records.
func ReadMeta(path string, progress bundle.Progress) (*Meta, error) {
	seal, err := bundle.Verify(path, Format, progress)
	if err != nil {
		return nil, err
	}
	m := &Meta{}
	if err := json.Unmarshal(seal.Meta, m); err != nil {
		return nil, &bundle.CorruptError{Path: path, Reason: "the backup's description is unreadable: " + err.Error()}
	}
	return m, nil
}

// ReadFile checks the archive at path against its seal, then returns the file name that Options.Files put in
// it; ok is false when the backup holds none of that name.
func ReadFile(path, name string) (body []byte, ok bool, err error) {
	meta, err := ReadMeta(path, nil)
	if err != nil {
		return nil, false, err
	}
	if !slices.Contains(meta.Files, name) {
		return nil, false, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err != nil {
			return nil, false, fmt.Errorf("read %s from %s: %w", name, path, err)
		}
		if hdr.Name == filesDir+name {
			body, err := io.ReadAll(io.LimitReader(tr, 1<<20))
			return body, err == nil, err
		}
	}
}

// Restore checks the backup at path, then writes each of its volumes into project p's volume of the same key,
// creating the volume (with the project's labels) when it is missing. Nothing is written unless every check
// passes: seal, images, nothing running, no data in a sentinel volume (unless Force).
func Restore(ctx context.Context, cli Engine, p *types.Project, file string, opts RestoreOptions, progress bundle.Progress) (*Meta, error) {
	meta, err := ReadMeta(file, progress)
	if err != nil {
		return nil, err
	}
	for _, svc := range opts.SameImage {
		if cur := p.Services[svc].Image; meta.Images[svc] != cur {
			return meta, &ReleaseMismatchError{Service: svc, Backup: meta.Images[svc], Project: cur}
		}
	}
	for _, v := range meta.Volumes {
		if _, ok := p.Volumes[v.Key]; !ok {
			return meta, fmt.Errorf("the backup holds volume %s, which project %s does not have", v.Key, p.Name)
		}
		for svc := range p.Services {
			if !mounts(p.Services[svc], v.Key) {
				continue
			}
			id, err := serviceContainer(ctx, cli, p.Name, svc)
			if errors.As(err, new(*ServiceNotFoundError)) {
				continue
			}
			if err != nil {
				return meta, err
			}
			st, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			if err != nil {
				return meta, fmt.Errorf("inspect service %s: %w", svc, deployer.Explain(err))
			}
			if st.Container.State != nil && st.Container.State.Running {
				return meta, &RunningError{Service: svc}
			}
		}
	}
	helpers := map[string]string{}
	defer func() {
		for _, id := range helpers {
			cli.ContainerRemove(context.WithoutCancel(ctx), id, client.ContainerRemoveOptions{Force: true})
		}
	}()
	for _, v := range meta.Volumes {
		id, err := helper(ctx, cli, p, v)
		if err != nil {
			return meta, err
		}
		helpers[v.Key] = id
		if s := opts.Sentinel[v.Key]; s != "" && !opts.Force {
			_, err := cli.ContainerStatPath(ctx, id, client.ContainerStatPathOptions{Path: path.Join(v.Target, s)})
			if err == nil {
				return meta, &NotEmptyError{Volume: p.Volumes[v.Key].Name, Path: s}
			}
			if !cerrdefs.IsNotFound(err) {
				return meta, fmt.Errorf("look into volume %s: %w", v.Key, deployer.Explain(err))
			}
		}
	}
	for _, v := range meta.Volumes {
		if err := copyVolume(ctx, cli, file, v, helpers[v.Key]); err != nil {
			return meta, err
		}
	}
	return meta, nil
}

// helper creates (never starts) a container of the service's image with the project's volume mounted where
// the service mounts it: the engine then reads and writes the volume for us. The volume is created if absent.
func helper(ctx context.Context, cli Engine, p *types.Project, v VolumeMeta) (string, error) {
	vol := p.Volumes[v.Key]
	if _, err := cli.VolumeInspect(ctx, vol.Name, client.VolumeInspectOptions{}); cerrdefs.IsNotFound(err) {
		labels := map[string]string{deployer.LabelProject: p.Name, deployer.LabelVolume: v.Key, deployer.LabelVersion: deployer.ComposeVersion}
		if _, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: vol.Name, Labels: labels}); err != nil {
			return "", fmt.Errorf("create volume %s: %w", vol.Name, deployer.Explain(err))
		}
	} else if err != nil {
		return "", fmt.Errorf("inspect volume %s: %w", vol.Name, deployer.Explain(err))
	}
	svc, ok := p.Services[v.Service]
	if !ok {
		return "", fmt.Errorf("the backup read volume %s from service %s, which project %s does not have", v.Key, v.Service, p.Name)
	}
	res, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: svc.Image, Entrypoint: []string{"/restore-never-runs"}},
		HostConfig: &container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: vol.Name, Target: v.Target}}},
	})
	if err != nil {
		return "", fmt.Errorf("create a container to reach volume %s (image %s): %w", vol.Name, svc.Image, deployer.Explain(err))
	}
	return res.ID, nil
}

// copyVolume streams the archive's volumes/<key>/ entries into the helper. Without CopyUIDGID the engine keeps
// the owners recorded in the tar (CopyUIDGID would chown all to the image's user, looked up in its passwd).
func copyVolume(ctx context.Context, cli Engine, archive string, v VolumeMeta, id string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(extract(f, "volumes/"+v.Key+"/", pw)) }()
	_, err = cli.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: path.Dir(v.Target), Content: pr})
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("write volume %s: %w", v.Key, deployer.Explain(err))
	}
	return nil
}

// extract writes the entries of archive r under prefix to w as a tar, without the prefix.
func extract(r io.Reader, prefix string, w io.Writer) error {
	tr, tw := tar.NewReader(r), tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		name, ok := strings.CutPrefix(hdr.Name, prefix)
		if !ok || name == "" {
			continue
		}
		hdr.Name = name
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

func mounts(s types.ServiceConfig, key string) bool {
	for _, m := range s.Volumes {
		if m.Type == types.VolumeTypeVolume && m.Source == key {
			return true
		}
	}
	return false
}
