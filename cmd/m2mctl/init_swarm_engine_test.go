package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/internal/testenv"
	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

// swarmInitFlags answer every question but the Swarm's, for an XRP node with its key in AWS KMS.
var swarmInitFlags = []string{"--node-id", "swarm-node", "--settlement", "xrp", "--xrp-address", testXRPAddress,
	"--xrpl-wss-url", "wss://xrplcluster.com", "--key-backend", "aws-kms", "--aws-region", "eu-west-1",
	"--aws-kms-xrp-key-id", "alias/m2m-node", "--aws-access-key-id", "", "--aws-secret-access-key-file", "",
	"--monitoring", "on", "--btp-port", "4000", "--health-port", "8080", "--log-level", "info", "--discovery", "off"}

// nodeLabels reads the m2m labels of each node of the test swarm through its manager, by node index.
func nodeLabels(t *testing.T, s *testenv.Swarm) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make([]string, len(s.Nodes))
	for i, n := range s.Nodes {
		res, err := s.Manager().Client.NodeInspect(ctx, n.ID, client.NodeInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var l []string
		for _, k := range []string{stack.NodeLabelReplica, stack.NodeLabelEdge} {
			if v, ok := res.Node.Spec.Labels[k]; ok {
				l = append(l, k+"="+v)
			}
		}
		out[i] = strings.Join(l, ",")
	}
	return out
}

func wantLabels(t *testing.T, s *testenv.Swarm, step string, want ...string) {
	t.Helper()
	got := nodeLabels(t, s)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: node %d (%s) has labels %q, want %q", step, i, s.Nodes[i].IP, got[i], want[i])
		}
	}
}

// On a real three-node swarm: init --yes --target swarm places the replicas (this engine's node first, then by
// address), labels the nodes through the manager and writes their addresses; it refuses to move a replica label
// off its node without --move-replicas; --no-label prints the commands and changes nothing; the line-by-line
// wizard lists the nodes and moves the edge; a worker is refused with the way to a manager.
func TestInitTargetSwarmLabelsTheNodes(t *testing.T) {
	s := testenv.NewSwarm(t, 3)
	t.Setenv("DOCKER_HOST", s.Manager().Host)
	dir := t.TempDir()
	env := filepath.Join(dir, ".env")
	// The first run writes the .env; the later ones change the placement with --update, which keeps the keys
	// and, above all, the cluster id that the replicas' data files carry.
	yes := func(extra ...string) initResult {
		args := append([]string{"--yes", "--output", env, "--target", "swarm"}, swarmInitFlags...)
		if _, err := os.Stat(env); err == nil {
			args = append(args, "--update")
		}
		return runInit(t, strings.NewReader(""), append(args, extra...)...)
	}
	n0, n1, n2 := s.Nodes[0], s.Nodes[1], s.Nodes[2]
	replica := func(i int) string { return fmt.Sprintf("%s=%d", stack.NodeLabelReplica, i) }
	edge := stack.NodeLabelEdge + "=true"

	res := yes()
	if res.code != 0 {
		t.Fatalf("init --yes --target swarm: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	wantLabels(t, s, "first init", replica(0)+","+edge, replica(1), replica(2))
	v := loadWritten(t, env)
	wantAddrs := fmt.Sprintf("%s:3000,%s:3000,%s:3000", n0.IP, n1.IP, n2.IP)
	if v.String(settings.DeployTarget) != settings.TargetSwarm || v.String(settings.TigerBeetleReplicaCount) != "3" ||
		v.String(settings.TigerBeetleReplicaAddresses) != wantAddrs {
		t.Errorf("the .env says %s=%s %s=%s %s=%s; want swarm, 3, %s", settings.DeployTarget, v.String(settings.DeployTarget),
			settings.TigerBeetleReplicaCount, v.String(settings.TigerBeetleReplicaCount),
			settings.TigerBeetleReplicaAddresses, v.String(settings.TigerBeetleReplicaAddresses), wantAddrs)
	}
	if !strings.Contains(res.stdout, "replica 0  on "+n0.IP+" (") || !strings.Contains(res.stdout, "Labelled node "+n0.IP) {
		t.Errorf("init did not say where replica 0 runs and what it labelled:\n%s", res.stdout)
	}
	cluster := v.String(settings.TigerBeetleClusterID)

	// Replica 0 to node 1: its data would stay on node 0. Refused, nothing written or labelled.
	before, _ := os.ReadFile(env)
	res = yes("--replica-node", "0="+n1.IP)
	if res.code != exitUsage || !strings.Contains(res.stderr, "stays on node "+n0.IP) || !strings.Contains(res.stderr, "--move-replicas") {
		t.Errorf("moving replica 0 without --move-replicas: exit %d, stderr:\n%s", res.code, res.stderr)
	}
	if after, _ := os.ReadFile(env); string(after) != string(before) {
		t.Errorf("a refused init changed the .env")
	}
	wantLabels(t, s, "refused move", replica(0)+","+edge, replica(1), replica(2))

	// --no-label: the commands, nothing changed.
	res = yes("--edge-node", n2.ID[:8], "--no-label")
	for _, cmd := range []string{
		"docker node update --label-rm " + stack.NodeLabelEdge + " " + n0.ID,
		"docker node update --label-add " + edge + " " + n2.ID,
	} {
		if !strings.Contains(res.stdout, cmd) {
			t.Errorf("--no-label does not print %q:\n%s", cmd, res.stdout)
		}
	}
	wantLabels(t, s, "--no-label", replica(0)+","+edge, replica(1), replica(2))

	// The wizard, line by line: target swarm, keep 3 replicas and their nodes, edge on the third node.
	lines := []string{"", "", "", "", "", "3", ""}
	//                tgt rep r0  r1  r2  edge sum (target and count: as the .env says)
	args := append([]string{"--update", "--output", env}, swarmInitFlags...)
	res = runInit(t, linePipe(t, lines), args...)
	if res.code != 0 {
		t.Fatalf("init, accessible, on the swarm: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	for _, shown := range []string{"Which node holds replica 2?", "[labelled: replica 0, edge]", "(this engine)", "the edge moves off node " + n0.IP} {
		if !strings.Contains(res.stderr, shown) {
			t.Errorf("the wizard does not show %q:\n%s", shown, res.stderr)
		}
	}
	if !regexp.MustCompile(`(?m)^3\. ` + regexp.QuoteMeta(n2.IP) + ` +` + n2.ID[:12] + ` +worker`).MatchString(res.stderr) {
		t.Errorf("the wizard does not list node 2 by address and short id:\n%s", res.stderr)
	}
	wantLabels(t, s, "wizard", replica(0), replica(1), replica(2)+","+edge)
	if v := loadWritten(t, env); v.String(settings.TigerBeetleReplicaAddresses) != wantAddrs {
		t.Errorf("after the wizard %s=%s, want %s", settings.TigerBeetleReplicaAddresses, v.String(settings.TigerBeetleReplicaAddresses), wantAddrs)
	}

	// A swap of replicas 0 and 1, knowingly: both warned about, both labels moved, the addresses swapped.
	res = yes("--replica-node", "0="+n1.IP+",1="+n0.ID, "--move-replicas")
	if res.code != 0 || strings.Count(res.stderr, "WARNING: replica") != 2 {
		t.Errorf("--move-replicas: exit %d, want 0 and a warning per moved replica:\n%s", res.code, res.stderr)
	}
	wantLabels(t, s, "--move-replicas", replica(1), replica(0), replica(2)+","+edge)
	v = loadWritten(t, env)
	if !strings.HasPrefix(v.String(settings.TigerBeetleReplicaAddresses), n1.IP+":3000,"+n0.IP+":3000,") {
		t.Errorf("after the swap %s=%s", settings.TigerBeetleReplicaAddresses, v.String(settings.TigerBeetleReplicaAddresses))
	}
	if v.String(settings.TigerBeetleClusterID) != cluster {
		t.Errorf("--update changed %s", settings.TigerBeetleClusterID)
	}
	t.Logf("init --yes --move-replicas printed:\n%s%s", res.stdout, res.stderr)

	// The full-screen form on a real terminal: each select starts on the node that holds the replica now.
	cmd, term := startOnTerminal(t, dir, append([]string{"init", "--update", "--output", env, "--target", "swarm", "--replicas", "3"}, swarmInitFlags...)...)
	for _, field := range []string{"Which node holds replica 0?", "Which node holds replica 1?", "Which node holds replica 2?", "Which node is the public edge?"} {
		term.waitFor(t, "┃ "+field)
		term.keys(t, keyEnter)
	}
	term.waitFor(t, "TIGERBEETLE_REPLICA_ADDRESSES")
	term.waitFor(t, "Write "+env)
	term.keys(t, keyEnter)
	term.waitFor(t, "The nodes already carry these labels.")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("init on a terminal: %v\n%s", err, tail(term.text(), 2000))
	}
	wantLabels(t, s, "form", replica(1), replica(0), replica(2)+","+edge)

	// A node the manager refuses to label (gone since it was listed): the rest is labelled, and the command for
	// that node is printed with an error.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sw := &swarmSetup{}
	if err := sw.connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer sw.close()
	gone := deployer.SwarmNode{ID: "gonegonegone0000000000000", Addr: "10.77.0.250", State: "ready", Availability: "active"}
	sw.nodes = append(sw.nodes, gone)
	sw.p = placement{replicas: []string{n1.ID, n0.ID, n2.ID}, edge: gone.ID}
	var out strings.Builder
	err := sw.label(ctx, &out)
	if err == nil || !strings.Contains(err.Error(), "1 node(s) kept their old labels") ||
		!strings.Contains(out.String(), "docker node update --label-add "+edge+" "+gone.ID) {
		t.Errorf("labelling a node that is gone: %v\n%s", err, out.String())
	}
	t.Logf("labelling a node that is gone printed:\n%sm2mctl: %v", out.String(), err)
	wantLabels(t, s, "a refused label", replica(1), replica(0), replica(2))
	if err := s.LabelNode(ctx, 2, map[string]string{stack.NodeLabelEdge: "true"}); err != nil {
		t.Fatal(err)
	}

	// up checks the labels against the .env before it deploys anything.
	up := func() initResult {
		var out, errOut strings.Builder
		code := run(context.Background(), &ioStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
			[]string{"up", "--dry-run", "--env-file", env})
		return initResult{code: code, stdout: out.String(), stderr: errOut.String()}
	}
	if res := up(); res.code != 0 {
		t.Errorf("up --dry-run with the labels init made: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if err := s.LabelNode(ctx, 0, map[string]string{stack.NodeLabelReplica: "2"}); err != nil {
		t.Fatal(err)
	}
	res = up()
	var planOut, planErr strings.Builder
	if code := run(context.Background(), &ioStreams{In: strings.NewReader(""), Out: &planOut, ErrOut: &planErr},
		[]string{"plan", "--env-file", env}); code != exitFailed || !strings.Contains(planErr.String(), "node labels do not match") {
		t.Errorf("plan with replica 2's label on two nodes: exit %d, want 1 and the labels' problem:\n%s", code, planErr.String())
	}
	for _, want := range []string{"nodes " + n0.IP, "are all labelled " + stack.NodeLabelReplica + "=2", "m2mctl init --update --target swarm"} {
		if res.code != exitFailed || !strings.Contains(res.stderr, want) {
			t.Errorf("up --dry-run with replica 2's label on two nodes: exit %d, want 1 and %q:\n%s", res.code, want, res.stderr)
		}
	}

	t.Setenv("DOCKER_HOST", n1.Host)
	res = yes()
	if res.code != exitFailed || !strings.Contains(res.stderr, "is a worker") || !strings.Contains(res.stderr, "run m2mctl init on a manager") {
		t.Errorf("init against a worker: exit %d, stderr:\n%s", res.code, res.stderr)
	}
}
