package deployer

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// SwarmNode is one node of a Swarm as its manager reports it. Every node may report the same hostname (cloned
// machines, namespaced engines): a node is known by its ID and its address.
type SwarmNode struct {
	ID           string            `json:"id"`
	Addr         string            `json:"addr"`         // the address the node reaches the Swarm on (Status.Addr)
	Hostname     string            `json:"hostname"`     // as the node reports it; not unique
	Role         string            `json:"role"`         // manager or worker
	Availability string            `json:"availability"` // active, pause or drain
	State        string            `json:"state"`        // ready, down, unknown or disconnected
	Leader       bool              `json:"leader,omitempty"`
	Self         bool              `json:"self,omitempty"` // the engine this connection talks to
	Labels       map[string]string `json:"labels,omitempty"`
	Memory       int64             `json:"memory"` // total bytes; 0 when unknown
}

// ShortID is the first 12 characters of the node's ID, as `docker node ls` shows it.
func (n SwarmNode) ShortID() string { return shortID(n.ID) }

// Schedulable reports whether the Swarm places new tasks on the node: it is up and not paused or drained.
func (n SwarmNode) Schedulable() bool {
	return n.State == string(swarm.NodeStateReady) && n.Availability == string(swarm.NodeAvailabilityActive)
}

// OpenManager connects to the engine named by DOCKER_HOST (or the default socket), which must be a manager of
// an active Swarm (else a *NotManagerError), for work on the Swarm's nodes.
func OpenManager(ctx context.Context) (*Swarm, error) {
	t, err := OpenSwarm(ctx, nil)
	if err != nil {
		return nil, err
	}
	return t.(*Swarm), nil
}

// SwarmNodes lists the Swarm's nodes, sorted by address then ID, with their labels.
func (s *Swarm) SwarmNodes(ctx context.Context) ([]SwarmNode, error) {
	info, err := s.cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return nil, fmt.Errorf("engine info: %w", Explain(err))
	}
	res, err := s.cli.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list swarm nodes: %w", Explain(err))
	}
	out := make([]SwarmNode, 0, len(res.Items))
	for _, n := range res.Items {
		sn := SwarmNode{
			ID: n.ID, Addr: n.Status.Addr, Hostname: n.Description.Hostname,
			Role: string(n.Spec.Role), Availability: string(n.Spec.Availability), State: string(n.Status.State),
			Self: n.ID == info.Info.Swarm.NodeID, Labels: maps.Clone(n.Spec.Labels), Memory: n.Description.Resources.MemoryBytes,
		}
		if n.ManagerStatus != nil {
			sn.Leader = n.ManagerStatus.Leader
			// A manager may report 0.0.0.0 as its status address (moby/moby#35437); the address it manages
			// the swarm on is its own.
			if unspecified(sn.Addr) {
				if host, _, err := net.SplitHostPort(n.ManagerStatus.Addr); err == nil {
					sn.Addr = host
				}
			}
		}
		out = append(out, sn)
	}
	slices.SortFunc(out, func(a, b SwarmNode) int {
		if c := compareAddr(a.Addr, b.Addr); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func unspecified(addr string) bool {
	ip, err := netip.ParseAddr(addr)
	return err != nil || ip.IsUnspecified()
}

// compareAddr orders IPv4 addresses numerically (10.0.0.9 before 10.0.0.10), anything else as text.
func compareAddr(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	if len(pa) == 4 && len(pb) == 4 {
		for i := range pa {
			if len(pa[i]) != len(pb[i]) {
				return len(pa[i]) - len(pb[i])
			}
			if c := strings.Compare(pa[i], pb[i]); c != 0 {
				return c
			}
		}
		return 0
	}
	return strings.Compare(a, b)
}

// NodeLabelError is a node whose labels the manager did not change.
type NodeLabelError struct {
	Node string // the node's ID
	Err  error
}

func (e *NodeLabelError) Error() string {
	return fmt.Sprintf("label node %s: %s", shortID(e.Node), firstLine(Explain(e.Err).Error()))
}

func (e *NodeLabelError) Unwrap() error { return e.Err }

// updateAttempts bounds the retries of a node update that lost a race with another update of the same node.
const updateAttempts = 5

// SetNodeLabels sets the labels in set on the node and removes those in remove, leaving its other labels as
// they are. Nothing is sent when the node already has them. The update names the node's version, so that a
// concurrent change of the node is never overwritten: such a race is retried with the node read again.
func (s *Swarm) SetNodeLabels(ctx context.Context, nodeID string, set map[string]string, remove []string) error {
	for attempt := 1; ; attempt++ {
		res, err := s.cli.NodeInspect(ctx, nodeID, client.NodeInspectOptions{})
		if err != nil {
			return &NodeLabelError{Node: nodeID, Err: err}
		}
		spec := res.Node.Spec
		labels := maps.Clone(spec.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		for _, k := range remove {
			delete(labels, k)
		}
		maps.Copy(labels, set)
		if maps.Equal(labels, spec.Labels) {
			return nil
		}
		spec.Labels = labels
		_, err = s.cli.NodeUpdate(ctx, nodeID, client.NodeUpdateOptions{Version: res.Node.Version, Spec: spec})
		if err == nil {
			return nil
		}
		if attempt >= updateAttempts || !outOfSequence(err) {
			return &NodeLabelError{Node: nodeID, Err: err}
		}
	}
}

// outOfSequence reports whether an update failed because the node changed since it was read.
func outOfSequence(err error) bool {
	return strings.Contains(err.Error(), "out of sequence") || cerrdefs.IsConflict(err)
}
