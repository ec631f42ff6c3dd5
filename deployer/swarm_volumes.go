package deployer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// ErrSwarmVolumes is wrapped by a *SwarmVolumesError: a manager's API removes volumes only on its own engine.
var ErrSwarmVolumes = errors.New("a manager removes volumes only on its own engine")

// NodeVolumes are the stack's volumes on one node of the Swarm.
type NodeVolumes struct {
	Node    string   `json:"node"` // address (short id)
	Volumes []string `json:"volumes"`
}

// SwarmVolumesError is Down with Volumes on a Swarm: the volumes on the manager's own engine were removed, those
// on other nodes are left, listed by node.
type SwarmVolumesError struct {
	Project string
	Removed []string
	Left    []NodeVolumes
}

func (e *SwarmVolumesError) Error() string {
	var nodes []string
	for _, n := range e.Left {
		nodes = append(nodes, n.Node)
	}
	return fmt.Sprintf("%s: the volumes of %s on %d other nodes are kept (%s)", ErrSwarmVolumes, e.Project, len(e.Left), strings.Join(nodes, ", "))
}

func (e *SwarmVolumesError) Unwrap() error { return ErrSwarmVolumes }

// Volumes lists the stack's volumes on the manager's own engine (the only ones its API can remove).
func (s *Swarm) Volumes(ctx context.Context, project string) ([]VolumeInfo, error) {
	res, err := s.cli.VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("label", labelStackNamespace+"="+project)})
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", Explain(err))
	}
	var out []VolumeInfo
	for _, v := range res.Items {
		size := int64(-1)
		if v.UsageData != nil {
			size = v.UsageData.Size
		}
		out = append(out, VolumeInfo{Name: v.Name, Size: size})
	}
	slices.SortFunc(out, func(a, b VolumeInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// volumesByNode reads, from the stack's tasks (those the Swarm still keeps), which volume each node holds.
func (s *Swarm) volumesByNode(ctx context.Context, project string) (map[string][]string, error) {
	res, err := s.cli.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("label", labelStackNamespace+"="+project)})
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", Explain(err))
	}
	out := map[string][]string{}
	for _, task := range res.Items {
		if task.NodeID == "" || task.Spec.ContainerSpec == nil {
			continue
		}
		for _, m := range task.Spec.ContainerSpec.Mounts {
			if m.Type == mount.TypeVolume && m.Source != "" && !slices.Contains(out[task.NodeID], m.Source) {
				out[task.NodeID] = append(out[task.NodeID], m.Source)
			}
		}
	}
	for id := range out {
		slices.Sort(out[id])
	}
	return out, nil
}

// removeVolumes removes, once its services are gone, the stack's volumes on the manager's own engine, and
// returns a *SwarmVolumesError naming those left on other nodes (byNode, read before the services went).
func (s *Swarm) removeVolumes(ctx context.Context, project string, byNode map[string][]string) error {
	info, err := s.cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return fmt.Errorf("engine info: %w", Explain(err))
	}
	self := info.Info.Swarm.NodeID
	here, err := s.Volumes(ctx, project)
	if err != nil {
		return err
	}
	result := &SwarmVolumesError{Project: project}
	for _, v := range here {
		if err := s.removeLocalVolume(ctx, v.Name); err != nil {
			return err
		}
		result.Removed = append(result.Removed, v.Name)
	}
	nodes := map[string]string{}
	if res, err := s.cli.NodeList(ctx, client.NodeListOptions{}); err == nil {
		for _, n := range res.Items {
			nodes[n.ID] = nodeName(n)
		}
	}
	for _, id := range sortedKeys(byNode) {
		if id == self {
			continue
		}
		name := nodes[id]
		if name == "" {
			name = shortID(id)
		}
		result.Left = append(result.Left, NodeVolumes{Node: name, Volumes: byNode[id]})
	}
	if len(result.Left) == 0 {
		return nil
	}
	slices.SortFunc(result.Left, func(a, b NodeVolumes) int { return strings.Compare(a.Node, b.Node) })
	return result
}

// removeLocalVolume removes a volume of this engine once the stopped containers of the stack's ended tasks,
// which the Swarm removes in its own time, no longer hold it.
func (s *Swarm) removeLocalVolume(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		users, err := s.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("volume", name)})
		if err != nil {
			return fmt.Errorf("containers of volume %s: %w", name, Explain(err))
		}
		for _, c := range users.Items {
			if c.State != "running" && c.Labels[labelStackNamespace] != "" {
				_, _ = s.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{})
			}
		}
		_, err = s.cli.VolumeRemove(ctx, name, client.VolumeRemoveOptions{})
		if err == nil || isNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("remove volume %s: %w", name, Explain(err))
		case <-tick.C:
		}
	}
}
