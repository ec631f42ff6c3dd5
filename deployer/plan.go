package deployer

import (
	"context"
	"fmt"
	"sort"

	"github.com/compose-spec/compose-go/v2/types"
)

// Action is what apply will do to one service.
type Action string

// The actions of a plan.
const (
	ActionCreate       Action = "create"
	ActionRecreate     Action = "recreate"
	ActionStart        Action = "start"
	ActionKeep         Action = "keep"
	ActionRemoveOrphan Action = "remove-orphan"
)

// ServiceStep is the plan for one service (or one orphan container).
type ServiceStep struct {
	Service   string `json:"service"`
	Action    Action `json:"action"`
	Reason    string `json:"reason"`
	Container string `json:"container,omitempty"`     // existing container ID
	Name      string `json:"containerName,omitempty"` // existing container name
	Hash      string `json:"configHash"`
	existing  Container
	filesHash string // of the files its configs and secrets mount (see filesHash)
}

// ResourceStep is the plan for a network, a volume or an image.
type ResourceStep struct {
	Kind   string `json:"kind"` // network, volume, image
	Name   string `json:"name"`
	Action string `json:"action"` // create, keep; for images: present, pull, build, missing
	Reason string `json:"reason,omitempty"`
}

// Plan is the difference between a project and what exists, as data: `m2mctl plan` prints it, Apply does it.
type Plan struct {
	Project   string         `json:"project"`
	Resources []ResourceStep `json:"resources"`
	Services  []ServiceStep  `json:"services"` // in dependency order
	Orphans   []ServiceStep  `json:"orphans,omitempty"`
}

// Changes reports whether applying the plan would change anything.
func (p *Plan) Changes() bool {
	for _, r := range p.Resources {
		if r.Action != "keep" && r.Action != "present" {
			return true
		}
	}
	for _, s := range p.Services {
		if s.Action != ActionKeep {
			return true
		}
	}
	return false
}

// Options steer Plan and Up.
type Options struct {
	// Pull is missing (default), always or never.
	Pull string
	// BuildFromBinary maps an image reference to a static binary to build it from when it is absent.
	BuildFromBinary map[string]string
	// RemoveOrphans removes containers of services no longer in the project.
	RemoveOrphans bool
	// LocalOnly names images that are never pulled, with the sentence that says how to get one (the connector
	// image is built, not published: a registry image of the same name would be someone else's).
	LocalOnly map[string]string
}

// Plan compares project with what exists and says what Up would do.
func (d *Deployer) Plan(ctx context.Context, project *types.Project, opts Options) (*Plan, error) {
	obs, err := d.Observe(ctx, project.Name)
	if err != nil {
		return nil, err
	}
	imgs, ids, err := d.planImages(ctx, project, opts)
	if err != nil {
		return nil, err
	}
	plan, err := planFrom(project, obs, ids)
	if err != nil {
		return nil, err
	}
	plan.Resources = append(plan.Resources, imgs...)
	return plan, nil
}

// planFrom is the pure part of Plan: project + observed → plan.
// imageIDs holds the local ID of each present image; a container made from another ID is recreated.
func planFrom(project *types.Project, obs *Observed, imageIDs map[string]string) (*Plan, error) {
	plan := &Plan{Project: project.Name}
	for _, key := range sortedKeys(project.Networks) {
		n := project.Networks[key]
		if bool(n.External) {
			continue
		}
		plan.Resources = append(plan.Resources, resourceStep("network", n.Name, obs.Networks[n.Name].Name != ""))
	}
	for _, key := range sortedKeys(project.Volumes) {
		v := project.Volumes[key]
		if bool(v.External) {
			continue
		}
		plan.Resources = append(plan.Resources, resourceStep("volume", v.Name, obs.Volumes[v.Name].Name != ""))
	}
	order, err := dependencyOrder(project)
	if err != nil {
		return nil, err
	}
	for _, name := range order {
		s := project.Services[name]
		hash, err := ConfigHash(s)
		if err != nil {
			return nil, err
		}
		files, err := filesHash(project, s)
		if err != nil {
			return nil, err
		}
		step := serviceStep(s, hash, imageIDs[s.Image], obs.Containers[name])
		if step.Action == ActionKeep || step.Action == ActionStart {
			if made := step.existing.Labels[LabelFilesHash]; made != "" && made != files {
				step.Action, step.Reason = ActionRecreate, "a config or secret file changed"
			}
		}
		step.filesHash = files
		plan.Services = append(plan.Services, step)
	}
	for _, svc := range sortedKeys(obs.Containers) {
		if _, ok := project.Services[svc]; ok {
			continue
		}
		if _, ok := project.DisabledServices[svc]; ok {
			continue // off by profile this time, as Compose sees it: not an orphan
		}
		for _, c := range obs.Containers[svc] {
			plan.Orphans = append(plan.Orphans, ServiceStep{Service: svc, Action: ActionRemoveOrphan,
				Reason: "service is not in the project", Container: c.ID, Name: c.Name, Hash: c.ConfigHash, existing: c})
		}
	}
	return plan, nil
}

func resourceStep(kind, name string, exists bool) ResourceStep {
	if exists {
		return ResourceStep{Kind: kind, Name: name, Action: "keep"}
	}
	return ResourceStep{Kind: kind, Name: name, Action: "create", Reason: "not found"}
}

func serviceStep(s types.ServiceConfig, hash, imageID string, existing []Container) ServiceStep {
	step := ServiceStep{Service: s.Name, Hash: hash}
	if len(existing) == 0 {
		step.Action, step.Reason = ActionCreate, "no container"
		return step
	}
	c := existing[0]
	step.Container, step.Name, step.existing = c.ID, c.Name, c
	done, finished := finished(c)
	switch {
	case c.ConfigHash != hash:
		step.Action, step.Reason = ActionRecreate, fmt.Sprintf("configuration changed (hash %.12s → %.12s)", c.ConfigHash, hash)
	case imageID != "" && c.ImageID != imageID:
		step.Action, step.Reason = ActionRecreate, fmt.Sprintf("image %s changed (%.19s → %.19s)", s.Image, c.ImageID, imageID)
	case finished:
		step.Action, step.Reason = ActionKeep, done
	case c.State == stateRunning || c.State == stateRestarting:
		step.Action, step.Reason = ActionKeep, "up to date"
	default:
		step.Action, step.Reason = ActionStart, "container is "+c.State
		if c.State == stateExited {
			step.Reason += fmt.Sprintf(" (exit %d)", c.ExitCode)
		}
	}
	return step
}

// dependencyOrder returns the services so that each comes after those it depends on.
func dependencyOrder(p *types.Project) ([]string, error) {
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string, []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("services depend on each other in a cycle: %v", append(path, name))
		case 2:
			return nil
		}
		state[name] = 1
		s := p.Services[name]
		for _, dep := range sortedKeys(s.DependsOn) {
			if _, ok := p.Services[dep]; !ok {
				if s.DependsOn[dep].Required {
					return fmt.Errorf("service %s depends on %s, which is not in the project (disabled profile?)", name, dep)
				}
				continue
			}
			if err := visit(dep, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, name)
		return nil
	}
	for _, name := range sortedKeys(p.Services) {
		if err := visit(name, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
