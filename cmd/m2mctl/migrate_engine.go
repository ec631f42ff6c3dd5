package main

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/internal/tbdata"
	"github.com/m2mnet/m2m/stack"
)

// originalStack is what the engine shows of the stack being migrated: its volumes, and its ledger.
type originalStack struct {
	volumes map[string]string // the stack's volume key (tigerbeetle-data …) → the engine's volume name
	// ledger is true when the data file is in the tigerbeetle-data volume; cluster and how it was learnt then.
	ledger  bool
	cluster string
	source  string
}

// formatClusterRE finds the cluster of a TigerBeetle format command in a container's command line.
var formatClusterRE = regexp.MustCompile(`\bformat\b.*--cluster[= ]([0-9]+)`)

// inspectOriginal lists project's volumes and, when it has a tigerbeetle-data volume, looks into it for the data
// file without starting anything: a container is created on the volume (read-only), the file's first bytes are
// copied out and the container is removed. fallbackImage makes that container when no container of the project
// that mounts the volume has an image on this host.
func inspectOriginal(ctx context.Context, cli *client.Client, project, fallbackImage string) (originalStack, error) {
	orig := originalStack{volumes: map[string]string{}}
	filter := make(client.Filters).Add("label", deployer.LabelProject+"="+project)
	vols, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: filter})
	if err != nil {
		return orig, fmt.Errorf("list the volumes of project %s: %w", project, deployer.Explain(err))
	}
	for _, v := range vols.Items {
		if key := v.Labels[deployer.LabelVolume]; key != "" {
			orig.volumes[key] = v.Name
		}
	}
	vol, ok := orig.volumes[stack.VolumeTigerBeetle]
	if !ok {
		return orig, nil
	}
	if vol != project+"_"+stack.VolumeTigerBeetle {
		return orig, fmt.Errorf("volume %s holds project %s's %s, but m2m names it %s_%s: a volume with its own name cannot be adopted; "+
			"copy its data into a volume of that name first", vol, project, stack.VolumeTigerBeetle, project, stack.VolumeTigerBeetle)
	}
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return orig, fmt.Errorf("list the containers of project %s: %w", project, deployer.Explain(err))
	}
	var images []string
	formatCluster, formatContainer := "", ""
	for _, c := range list.Items {
		for _, m := range c.Mounts {
			if m.Name == vol {
				images = append(images, c.Image)
			}
		}
		if m := formatClusterRE.FindStringSubmatch(c.Command); m != nil {
			formatCluster, formatContainer = m[1], containerName(c)
		}
	}
	image, err := presentImage(ctx, cli, append(images, fallbackImage))
	if err != nil {
		return orig, err
	}
	sb, found, err := readSuperblock(ctx, cli, image, vol)
	if err != nil || !found {
		return orig, err
	}
	orig.ledger = true
	where := fmt.Sprintf("%s in volume %s", stack.DataFile, vol)
	switch {
	case sb != nil:
		orig.cluster = sb.Cluster.String()
		orig.source = fmt.Sprintf("read from the superblock of %s (formatted by TigerBeetle %s)", where, sb.Release)
	case formatCluster != "":
		orig.cluster = formatCluster
		orig.source = fmt.Sprintf("%s has no TigerBeetle %s superblock m2mctl can read; container %s formatted it with --cluster=%s",
			where, "0.17.9", formatContainer, formatCluster)
	default:
		orig.cluster = "0"
		orig.source = fmt.Sprintf("%s exists, with no superblock m2mctl can read; the original stack formats with --cluster=0", where)
	}
	return orig, nil
}

func containerName(c container.Summary) string {
	if len(c.Names) > 0 {
		return path.Base(c.Names[0])
	}
	return c.ID[:12]
}

// presentImage returns the first of images that is on this host, else any image there: the container made from it
// is never started, so what the image holds does not matter.
func presentImage(ctx context.Context, cli *client.Client, images []string) (string, error) {
	for _, im := range images {
		if im == "" {
			continue
		}
		if _, err := cli.ImageInspect(ctx, im); err == nil {
			return im, nil
		}
	}
	list, err := cli.ImageList(ctx, client.ImageListOptions{})
	if err != nil {
		return "", fmt.Errorf("list images: %w", deployer.Explain(err))
	}
	if len(list.Items) > 0 {
		return list.Items[0].ID, nil
	}
	sort.Strings(images)
	return "", fmt.Errorf("no image on this host to look into the ledger volume with (tried %v): load the TigerBeetle image first", images)
}

// readSuperblock reads the data file's superblock from vol through a created, never started container. found is
// false when the volume has no data file; sb is nil when the file has no superblock of the known layout.
func readSuperblock(ctx context.Context, cli *client.Client, image, vol string) (sb *tbdata.Superblock, found bool, err error) {
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: image, Entrypoint: []string{"/m2mctl-migrate-never-runs"}, Labels: map[string]string{"io.m2m.purpose": "migrate: read the ledger's superblock"}},
		HostConfig: &container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: vol, Target: path.Dir(stack.DataFile), ReadOnly: true}}},
	})
	if err != nil {
		return nil, false, fmt.Errorf("create a container to look into volume %s: %w", vol, deployer.Explain(err))
	}
	defer cli.ContainerRemove(context.WithoutCancel(ctx), created.ID, client.ContainerRemoveOptions{Force: true})
	res, err := cli.CopyFromContainer(ctx, created.ID, client.CopyFromContainerOptions{SourcePath: stack.DataFile})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("read %s in volume %s: %w", stack.DataFile, vol, deployer.Explain(err))
	}
	// Only the superblock zone is read: closing the stream early spares copying a data file of a gigabyte or more.
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	if _, err := tr.Next(); err != nil {
		return nil, true, fmt.Errorf("read %s in volume %s: %w", stack.DataFile, vol, err)
	}
	s, err := tbdata.Read(tr)
	switch {
	case errors.Is(err, tbdata.ErrNotDataFile):
		return nil, true, nil
	case err != nil:
		return nil, true, fmt.Errorf("read %s in volume %s: %w", stack.DataFile, vol, err)
	}
	return &s, true, nil
}
