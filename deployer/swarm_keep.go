package deployer

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// judge says whether Up keeps the service have or updates it to want. A service m2mctl made carries the hash of
// its spec, which settles it at once; one that `docker stack deploy` made carries none, and one an older m2mctl
// made may carry another hash for the same spec: those are kept when the engine's spec asks for what want asks
// for, so either tool keeps what the other made.
func (s *Swarm) judge(ctx context.Context, have swarm.Service, want swarm.ServiceSpec) (Action, string, error) {
	old := have.Spec.Labels[labelSpecHash]
	if old == want.Labels[labelSpecHash] {
		return ActionKeep, "up to date", nil
	}
	networks, err := s.networkNames(ctx, have.Spec.TaskTemplate.Networks)
	if err != nil {
		return "", "", err
	}
	switch same := sameSpec(have.Spec, want, networks); {
	case same && old == "":
		return ActionKeep, "the same spec (deployed without m2mctl)", nil
	case same:
		return ActionKeep, "the same spec", nil
	case old == "":
		return ActionRecreate, "spec changed (deployed without m2mctl)", nil
	default:
		return ActionRecreate, fmt.Sprintf("spec changed (%s → %s)", shortID(old), shortID(want.Labels[labelSpecHash])), nil
	}
}

// sameSpec reports whether the engine's spec have asks for what want asks for, once set aside what the engine
// writes by itself: network ids where a spec names the network, defaults it fills in (isolation, runtime), empty
// values, and the spec-hash label. networks maps network ids to names.
func sameSpec(have, want swarm.ServiceSpec, networks map[string]string) bool {
	have.Labels, want.Labels = withoutHash(have.Labels), withoutHash(want.Labels)
	have.TaskTemplate.Networks = slices.Clone(have.TaskTemplate.Networks)
	for i, n := range have.TaskTemplate.Networks {
		if name, ok := networks[n.Target]; ok {
			have.TaskTemplate.Networks[i].Target = name
		}
	}
	a, errA := canonical(have)
	b, errB := canonical(want)
	return errA == nil && errB == nil && reflect.DeepEqual(a, b)
}

func withoutHash(labels map[string]string) map[string]string {
	out := maps.Clone(labels)
	delete(out, labelSpecHash)
	return out
}

// canonical is spec as plain JSON values without empty ones and without the engine's defaults.
func canonical(spec any) (any, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return prune(v), nil
}

// engineDefaults are values the engine writes into a spec that asked for nothing.
var engineDefaults = map[string]any{"Isolation": "default", "Runtime": "container"}

// prune drops, from JSON values, the members that are empty (null, false, 0, "", {} or []) or hold the engine's
// default; elements of lists are pruned but kept, since their position counts.
func prune(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, member := range v {
			member = prune(member)
			if empty(member) || engineDefaults[k] == member {
				delete(v, k)
				continue
			}
			v[k] = member
		}
		return v
	case []any:
		for i := range v {
			v[i] = prune(v[i])
		}
		return v
	}
	return v
}

func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case float64:
		return v == 0
	case string:
		return v == ""
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

// networkNames maps network ids to names: those of every network the manager lists, and of each network of
// attached that the list leaves out (the Swarm's own "host" network has an id of the Swarm's, and the list shows
// the engine's local network of that name instead).
func (s *Swarm) networkNames(ctx context.Context, attached []swarm.NetworkAttachmentConfig) (map[string]string, error) {
	res, err := s.cli.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", Explain(err))
	}
	out := make(map[string]string, len(res.Items))
	for _, n := range res.Items {
		out[n.ID] = n.Name
	}
	for _, a := range attached {
		if _, ok := out[a.Target]; ok {
			continue
		}
		n, err := s.cli.NetworkInspect(ctx, a.Target, client.NetworkInspectOptions{})
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("inspect network %s: %w", a.Target, Explain(err))
		}
		out[a.Target] = n.Network.Name
	}
	return out, nil
}

// outdated reports whether task is a service's task from before the service's last update and runs another
// spec than the one the service now asks for: until the Swarm replaces it, the update has not taken effect.
func outdated(svc swarm.Service, task swarm.Task) bool {
	if task.Meta.CreatedAt.After(svc.Meta.UpdatedAt) {
		return false
	}
	a, errA := canonical(task.Spec)
	b, errB := canonical(svc.Spec.TaskTemplate)
	return errA == nil && errB == nil && !reflect.DeepEqual(a, b)
}
