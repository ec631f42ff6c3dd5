package deployer

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// Swarm is the Target of a Docker Swarm, driven through a manager's Engine API: services, tasks, nodes,
// secrets and configs, named and labelled as `docker stack deploy` names them, so either tool sees the other's
// stack. Placement, restarts and rescheduling are the Swarm's own.
type Swarm struct {
	cli *client.Client
	// secrets holds the values of the project's Swarm secrets by key; a secret missing from the Swarm is made
	// from it.
	secrets map[string][]byte
}

// NotManagerError is an engine that is not a manager of an active Swarm.
type NotManagerError struct {
	State string // the engine's swarm state: inactive, pending, active (as a worker), …
}

func (e *NotManagerError) Error() string {
	if e.State == "active" {
		return "this engine is a Swarm worker: deploy through a manager"
	}
	return fmt.Sprintf("this engine is not in a Swarm (state %s): run docker swarm init, or join one", e.State)
}

// OpenSwarm connects to the engine named by DOCKER_HOST (or the default socket), which must be a Swarm
// manager, and returns it as a Target. secrets are the values of the stack's Swarm secrets, by key.
func OpenSwarm(ctx context.Context, secrets map[string][]byte) (Target, error) {
	cli, err := Connect(ctx)
	if err != nil {
		return nil, err
	}
	info, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("engine info: %w", Explain(err))
	}
	if !info.Info.Swarm.ControlAvailable {
		cli.Close()
		return nil, &NotManagerError{State: string(info.Info.Swarm.LocalNodeState)}
	}
	return &Swarm{cli: cli, secrets: secrets}, nil
}

var _ Target = (*Swarm)(nil)

// Close releases the connection.
func (s *Swarm) Close() error { return s.cli.Close() }

// Nodes lists the Swarm's nodes by address (every node may report the same hostname).
func (s *Swarm) Nodes(ctx context.Context) ([]Node, error) {
	res, err := s.cli.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list swarm nodes: %w", Explain(err))
	}
	var out []Node
	for _, n := range res.Items {
		out = append(out, Node{Name: nodeName(n), Memory: n.Description.Resources.MemoryBytes})
	}
	return out, nil
}

func nodeName(n swarm.Node) string {
	if n.Status.Addr != "" {
		return n.Status.Addr + " (" + shortID(n.ID) + ")"
	}
	return shortID(n.ID)
}

func shortID(id string) string { return id[:min(12, len(id))] }

// services returns the stack's services by their name in the project.
func (s *Swarm) services(ctx context.Context, project string) (map[string]swarm.Service, error) {
	res, err := s.cli.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", labelStackNamespace+"="+project)})
	if err != nil {
		return nil, fmt.Errorf("list services of %s: %w", project, Explain(err))
	}
	out := map[string]swarm.Service{}
	for _, svc := range res.Items {
		out[strings.TrimPrefix(svc.Spec.Name, project+"_")] = svc
	}
	return out, nil
}

// swarmOrder puts one-shots (jobs) first, then TigerBeetle replicas... by dependency: jobs, then the
// services nothing else needs to start, sorted by name for a stable plan.
func swarmOrder(p *types.Project) []string {
	names := p.ServiceNames()
	job := func(n string) bool { d := p.Services[n].Deploy; return d != nil && d.Mode == "replicated-job" }
	slices.SortStableFunc(names, func(a, b string) int {
		if job(a) != job(b) {
			if job(a) {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	return names
}

// Plan says, for every service, whether Up creates it, updates it (its spec changed) or keeps it.
func (s *Swarm) Plan(ctx context.Context, p *types.Project, _ Options) (*Plan, error) {
	have, err := s.services(ctx, p.Name)
	if err != nil {
		return nil, err
	}
	refs, err := s.objects(ctx, p, false)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Project: p.Name}
	for _, name := range swarmOrder(p) {
		spec, err := serviceSpecFor(p, p.Services[name], refs)
		if err != nil {
			return nil, err
		}
		step := ServiceStep{Service: name, Action: ActionCreate, Reason: "no service", Hash: spec.Labels[labelSpecHash]}
		if svc, ok := have[name]; ok {
			step.Container = svc.ID
			if step.Action, step.Reason, err = s.judge(ctx, svc, spec); err != nil {
				return nil, err
			}
		}
		plan.Services = append(plan.Services, step)
	}
	for name, svc := range have {
		if _, ok := p.Services[name]; !ok {
			plan.Orphans = append(plan.Orphans, ServiceStep{Service: name, Action: ActionRemoveOrphan, Reason: "not in the project", Container: svc.ID})
		}
	}
	return plan, nil
}
