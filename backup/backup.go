// Package backup copies a Compose project's volumes out of its stopped containers into a sealed archive
// (see bundle) and back into the volumes of the same or a fresh project.
//
// It knows nothing of TigerBeetle: the caller names the services to stop, the volumes to copy and the file
// whose presence means a volume holds data.
package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/bundle"
	"github.com/m2mnet/m2m/deployer"
)

// Format names a backup archive in its seal.
const Format = "m2m-backup/1"

// filesDir holds Options.Files in the archive.
const filesDir = "files/"

// Engine is the part of the Docker Engine API that backup and restore use; *client.Client satisfies it.
type Engine interface {
	client.ContainerAPIClient
	client.VolumeAPIClient
}

// Options says what a backup holds and what it stops.
type Options struct {
	// Stop are the services stopped while the volumes are copied (dependents first); they are started again
	// in reverse order. Services that were not running are left as they were.
	Stop []string
	// Volumes are the project's volume keys to copy, each from the container of the service that mounts it.
	Volumes []string
	// Guard, when set, is told what to undo should this process die before Backup returns.
	Guard Guard
	// Files are stored as they are under files/<Name> (the caller encrypts what must not be readable).
	Files []File
}

// File is a small file a backup carries beside the volumes.
type File struct {
	Name string
	Body []byte
}

// Guard hears, before Backup makes each change, what a process that outlives this one must undo if Backup
// never returns (kill -9): remove the partial archive, start again the containers it stopped.
type Guard interface {
	Partial(path string) error
	Stopping(service, containerID string) error
}

// Meta is what a backup records in its seal.
type Meta struct {
	Project string    `json:"project"`
	Created time.Time `json:"created"`
	// Images maps each service the backup read from or stopped to its image: the release it ran.
	Images  map[string]string `json:"images"`
	Volumes []VolumeMeta      `json:"volumes"`
	Files   []string          `json:"files,omitempty"`
}

// VolumeMeta is one copied volume: stored under volumes/<Key>/ in the archive.
type VolumeMeta struct {
	Key     string `json:"key"`
	Service string `json:"service"`
	Target  string `json:"target"` // where the service mounts it
}

// Result is what Backup did and how long the stopped services were down.
type Result struct {
	Meta    Meta
	Stopped []string
	// Downtime runs from the first stop request to the last start: what the stopped services were down for.
	Downtime time.Duration
	Bytes    int64
}

// ServiceNotFoundError: the project has no container for a service the backup needs.
type ServiceNotFoundError struct{ Project, Service string }

func (e *ServiceNotFoundError) Error() string {
	return fmt.Sprintf("project %s has no container for service %s", e.Project, e.Service)
}

// Backup stops opts.Stop, copies opts.Volumes into a sealed archive at path (written beside it and renamed
// when complete, so an interrupted backup leaves no half file), and starts what it stopped, also on failure.
func Backup(ctx context.Context, cli Engine, p *types.Project, path string, opts Options, progress bundle.Progress) (*Result, error) {
	meta := Meta{Project: p.Name, Created: time.Now().UTC(), Images: map[string]string{}}
	containers := map[string]string{}
	for _, svc := range append(slices.Clone(opts.Stop), volumeServices(p, opts.Volumes)...) {
		if _, ok := containers[svc]; ok {
			continue
		}
		id, err := serviceContainer(ctx, cli, p.Name, svc)
		if err != nil {
			return nil, err
		}
		containers[svc] = id
		meta.Images[svc] = p.Services[svc].Image
	}
	for _, key := range opts.Volumes {
		svc, target, ok := mountOf(p, key)
		if !ok {
			return nil, fmt.Errorf("no service of project %s mounts volume %s", p.Name, key)
		}
		meta.Volumes = append(meta.Volumes, VolumeMeta{Key: key, Service: svc, Target: target})
	}
	for _, f := range opts.Files {
		meta.Files = append(meta.Files, f.Name)
	}

	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.partial")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	defer tmp.Close()
	if opts.Guard != nil {
		if err := opts.Guard.Partial(tmp.Name()); err != nil {
			return nil, fmt.Errorf("guard the backup: %w", err)
		}
	}

	res := &Result{Meta: meta}
	down := time.Now() // the first service is unavailable from the stop request on
	stopped, err := stopRunning(ctx, cli, opts.Stop, containers, opts.Guard)
	res.Stopped = stopped
	copyErr := err
	cw := &countingWriter{w: tmp, progress: progress}
	if copyErr == nil {
		copyErr = writeVolumes(ctx, cli, cw, meta, containers, opts.Files)
	}
	// Start again even when the copy failed or ctx ended: the stack must not stay down because of a backup.
	startErr := startAll(context.WithoutCancel(ctx), cli, stopped, containers)
	res.Downtime = time.Since(down)
	if copyErr != nil {
		return res, copyErr
	}
	if startErr != nil {
		return res, startErr
	}
	if err := tmp.Sync(); err != nil {
		return res, err
	}
	if err := tmp.Close(); err != nil {
		return res, err
	}
	res.Bytes = cw.n
	return res, os.Rename(tmp.Name(), path)
}

func writeVolumes(ctx context.Context, cli Engine, w *countingWriter, meta Meta, containers map[string]string, files []File) error {
	sw := bundle.NewSealWriter(w, Format)
	for _, f := range files {
		hdr := &tar.Header{Name: filesDir + f.Name, Typeflag: tar.TypeReg, Mode: 0o600, Size: int64(len(f.Body)), ModTime: meta.Created}
		if err := sw.WriteEntry(hdr, bytes.NewReader(f.Body)); err != nil {
			return fmt.Errorf("write %s: %w", f.Name, err)
		}
	}
	for _, v := range meta.Volumes {
		rc, err := cli.CopyFromContainer(ctx, containers[v.Service], client.CopyFromContainerOptions{SourcePath: v.Target})
		if err != nil {
			return fmt.Errorf("copy volume %s from service %s: %w", v.Key, v.Service, deployer.Explain(err))
		}
		err = sw.CopyTar(rc.Content, "volumes/"+v.Key+"/")
		rc.Content.Close()
		if err != nil {
			return fmt.Errorf("copy volume %s: %w", v.Key, err)
		}
	}
	return sw.Close(meta)
}

// stopRunning stops, in order, the services' containers that are running, and returns those it stopped.
func stopRunning(ctx context.Context, cli Engine, services []string, containers map[string]string, guard Guard) ([]string, error) {
	var stopped []string
	for _, svc := range services {
		st, err := cli.ContainerInspect(ctx, containers[svc], client.ContainerInspectOptions{})
		if err != nil {
			return stopped, fmt.Errorf("inspect service %s: %w", svc, deployer.Explain(err))
		}
		if st.Container.State == nil || !st.Container.State.Running {
			continue
		}
		if guard != nil {
			if err := guard.Stopping(svc, containers[svc]); err != nil {
				return stopped, fmt.Errorf("guard the backup: %w", err)
			}
		}
		if _, err := cli.ContainerStop(ctx, containers[svc], client.ContainerStopOptions{}); err != nil {
			return stopped, fmt.Errorf("stop service %s: %w", svc, deployer.Explain(err))
		}
		stopped = append(stopped, svc)
	}
	return stopped, nil
}

// startAll starts the services in reverse order of stopping: dependencies first.
func startAll(ctx context.Context, cli Engine, stopped []string, containers map[string]string) error {
	for i := len(stopped) - 1; i >= 0; i-- {
		if _, err := cli.ContainerStart(ctx, containers[stopped[i]], client.ContainerStartOptions{}); err != nil {
			return fmt.Errorf("start service %s again: %w", stopped[i], deployer.Explain(err))
		}
	}
	return nil
}

// serviceContainer finds the project's (non one-off) container of service.
func serviceContainer(ctx context.Context, cli Engine, project, service string) (string, error) {
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).
		Add("label", deployer.LabelProject+"="+project).Add("label", deployer.LabelService+"="+service)})
	if err != nil {
		return "", fmt.Errorf("list containers of %s: %w", project, deployer.Explain(err))
	}
	for _, c := range res.Items {
		if c.Labels[deployer.LabelOneoff] != "True" {
			return c.ID, nil
		}
	}
	return "", &ServiceNotFoundError{Project: project, Service: service}
}

// mountOf returns the first service (by name) mounting volume key, and where.
func mountOf(p *types.Project, key string) (service, target string, ok bool) {
	names := make([]string, 0, len(p.Services))
	for n := range p.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, m := range p.Services[n].Volumes {
			if m.Type == types.VolumeTypeVolume && m.Source == key {
				return n, path.Clean(m.Target), true
			}
		}
	}
	return "", "", false
}

func volumeServices(p *types.Project, keys []string) []string {
	var out []string
	for _, k := range keys {
		if svc, _, ok := mountOf(p, k); ok {
			out = append(out, svc)
		}
	}
	return out
}

type countingWriter struct {
	w        interface{ Write([]byte) (int, error) }
	n        int64
	progress bundle.Progress
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.progress != nil {
		c.progress(c.n)
	}
	return n, err
}
