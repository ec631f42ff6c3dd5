package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/internal/testenv"
)

// The harness's swarm has every node ready, each with its own address, the machine's engine left alone.
func TestSwarmOfNamespacedEngines(t *testing.T) {
	s := testenv.NewSwarm(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := s.Manager().Client.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 3 {
		t.Fatalf("%d nodes in the swarm, want 3", len(res.Items))
	}
	addrs := map[string]bool{}
	for _, n := range res.Items {
		addrs[n.Status.Addr] = true
	}
	for _, n := range s.Nodes {
		if !addrs[n.IP] {
			t.Errorf("node %d (%s) is not in the swarm: %v", n.Index, n.IP, addrs)
		}
	}
	host, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	info, err := host.Info(ctx, client.InfoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := info.Info.Swarm.LocalNodeState; st != "inactive" {
		t.Errorf("the machine's engine is in swarm state %q", st)
	}
}
