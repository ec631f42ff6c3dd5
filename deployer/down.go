package deployer

import (
	"context"
	"fmt"
	"strings"

	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"
)

// DownOptions steer Down.
type DownOptions struct {
	// Timeout is the stop timeout in seconds; nil uses each container's own (stop_grace_period) or 10 s.
	Timeout *int
	// Volumes removes the project's volumes too. The data in them is lost.
	Volumes  bool
	Reporter Reporter
}

// VolumeInfo is one of a project's volumes, with its size when the engine reports it (-1 otherwise).
type VolumeInfo struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// Volumes lists project's volumes with their sizes.
func (d *Deployer) Volumes(ctx context.Context, project string) ([]VolumeInfo, error) {
	obs, err := d.Observe(ctx, project)
	if err != nil {
		return nil, err
	}
	sizes := map[string]int64{}
	if du, err := d.cli.DiskUsage(ctx, client.DiskUsageOptions{Volumes: true}); err == nil {
		for _, v := range du.Volumes.Items {
			if v.UsageData != nil {
				sizes[v.Name] = v.UsageData.Size
			}
		}
	}
	var out []VolumeInfo
	for _, name := range sortedKeys(obs.Volumes) {
		size, ok := sizes[name]
		if !ok {
			size = -1
		}
		out = append(out, VolumeInfo{Name: name, Size: size})
	}
	return out, nil
}

// Down stops and removes project's containers, dependents before what they depend on (read from the
// depends_on label, so it works without the project's description), then its networks, and its volumes
// only when opts.Volumes is set.
func (d *Deployer) Down(ctx context.Context, project string, opts DownOptions) error {
	r := opts.Reporter
	obs, err := d.Observe(ctx, project)
	if err != nil {
		return err
	}
	for _, level := range stopOrder(obs) {
		g, gctx := errgroup.WithContext(ctx)
		for _, svc := range level {
			for _, c := range obs.Containers[svc] {
				g.Go(func() error {
					if err := d.removeContainer(gctx, c, opts.Timeout, r); err != nil {
						return err
					}
					report(r, Event{Kind: "service", Name: svc, Status: StatusRemoved, Detail: c.Name, Final: true})
					return nil
				})
			}
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	// One-off containers (docker compose run) hold the network too.
	list, err := d.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: projectFilter(project).Add("label", LabelOneoff+"=True")})
	if err == nil {
		for _, c := range list.Items {
			d.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
		}
	}
	for _, name := range sortedKeys(obs.Networks) {
		if _, err := d.cli.NetworkRemove(ctx, obs.Networks[name].ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			return fmt.Errorf("remove network %s: %w", name, Explain(err))
		}
		report(r, Event{Kind: "network", Name: name, Status: StatusRemoved, Final: true})
	}
	if !opts.Volumes {
		return nil
	}
	for _, name := range sortedKeys(obs.Volumes) {
		if _, err := d.cli.VolumeRemove(ctx, name, client.VolumeRemoveOptions{}); err != nil && !isNotFound(err) {
			return fmt.Errorf("remove volume %s: %w", name, Explain(err))
		}
		report(r, Event{Kind: "volume", Name: name, Status: StatusRemoved, Final: true})
	}
	return nil
}

// stopOrder groups the observed services into levels: each level only depends on later levels.
func stopOrder(obs *Observed) [][]string {
	deps := map[string][]string{}
	for svc, cs := range obs.Containers {
		for _, c := range cs {
			for _, d := range strings.Split(c.Labels[LabelDependsOn], ",") {
				if name, _, _ := strings.Cut(d, ":"); name != "" {
					if _, ok := obs.Containers[name]; ok {
						deps[svc] = append(deps[svc], name)
					}
				}
			}
		}
	}
	dependents := map[string]int{}
	for _, ds := range deps {
		for _, d := range ds {
			dependents[d]++
		}
	}
	left := map[string]bool{}
	for svc := range obs.Containers {
		left[svc] = true
	}
	var levels [][]string
	for len(left) > 0 {
		var level []string
		for _, svc := range sortedKeys(left) {
			if dependents[svc] == 0 {
				level = append(level, svc)
			}
		}
		if len(level) == 0 { // a cycle: stop the rest together
			level = sortedKeys(left)
		}
		for _, svc := range level {
			delete(left, svc)
			for _, d := range deps[svc] {
				dependents[d]--
			}
		}
		levels = append(levels, level)
	}
	return levels
}
