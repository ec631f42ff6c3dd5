package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// Swarm is a Docker Swarm made only of engines the test started: one network namespace per "host" on a bridge
// of its own, a dockerd in each (/work/shared/FACTS.md, "Docker Swarm on this machine"). The machine's own
// engine never changes mode. Every name carries a random prefix, and Cleanup (registered by NewSwarm) removes
// the containers, engines, namespaces, bridge, firewall rule and data directories even when the test failed.
type Swarm struct {
	Prefix  string       // unique: names of the bridge, namespaces and veths start with it
	Bridge  string       // the bridge's name
	Subnet  string       // e.g. 10.77.123.0/24; the host is Gateway (.1), node i is .10+i
	Gateway string       // the machine's own address on the bridge, which every node reaches
	Nodes   []*SwarmNode // Nodes[0] is the manager
	dir     string
	cleanup []func() error
}

// SwarmTools are the programs a test swarm needs besides root: dockerd, nsenter, ip, iptables, fuse-overlayfs.
var SwarmTools = []string{"dockerd", "nsenter", "ip", "iptables", "fuse-overlayfs"}

// SwarmErr says why a test swarm cannot be built here (no engine tests, not root, a tool missing), or nil.
func SwarmErr() error {
	if err := EngineErr(); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("a test swarm needs root (network namespaces, a bridge, dockerd)")
	}
	for _, tool := range SwarmTools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("a test swarm needs %s on PATH (scripts/test-deps.sh installs it)", tool)
		}
	}
	return nil
}

// NewSwarm builds an n-node swarm (node 0 the manager, the others workers), or skips t (fails it with
// M2M_REQUIRE_DOCKER=1) when SwarmErr says it cannot.
func NewSwarm(t testing.TB, n int) *Swarm {
	t.Helper()
	if err := SwarmErr(); err != nil {
		Skip(t, "needs a test swarm: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := buildSwarm(ctx, n)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("clean up test swarm %s: %v", s.Prefix, err)
		}
	})
	if err != nil {
		t.Fatalf("build a %d-node test swarm: %v", n, err)
	}
	return s
}

func buildSwarm(ctx context.Context, n int) (*Swarm, error) {
	var b [3]byte
	_, _ = rand.Read(b[:])
	s := &Swarm{Prefix: "m2s" + hex.EncodeToString(b[:])}
	s.Bridge = s.Prefix
	third, err := freeSubnet()
	if err != nil {
		return s, err
	}
	s.Subnet = fmt.Sprintf("10.77.%d.0/24", third)
	if s.dir, err = os.MkdirTemp("", s.Prefix+"-"); err != nil {
		return s, err
	}
	s.onClose(func() error { return os.RemoveAll(s.dir) })
	gw := fmt.Sprintf("10.77.%d.1", third)
	s.Gateway = gw
	if err := s.run("ip", "link", "add", s.Bridge, "type", "bridge"); err != nil {
		return s, err
	}
	s.onClose(func() error { return s.run("ip", "link", "del", s.Bridge) })
	if err := s.runAll([][]string{{"ip", "addr", "add", gw + "/24", "dev", s.Bridge}, {"ip", "link", "set", s.Bridge, "up"}}); err != nil {
		return s, err
	}
	// Docker sets the FORWARD policy to DROP: traffic between the namespaces needs this rule, removed on Close.
	rule := []string{"FORWARD", "-i", s.Bridge, "-o", s.Bridge, "-j", "ACCEPT"}
	if err := s.run("iptables", append([]string{"-I"}, rule...)...); err != nil {
		return s, err
	}
	s.onClose(func() error { return s.run("iptables", append([]string{"-D"}, rule...)...) })
	for i := range n {
		node, err := s.addNode(ctx, i, fmt.Sprintf("10.77.%d.%d", third, 10+i), gw)
		if err != nil {
			return s, err
		}
		s.Nodes = append(s.Nodes, node)
	}
	return s, s.form(ctx)
}

// addNode makes namespace i with a veth on the bridge, and starts its engine.
func (s *Swarm) addNode(ctx context.Context, i int, ip, gw string) (*SwarmNode, error) {
	n := &SwarmNode{Index: i, NetNS: fmt.Sprintf("%s-%d", s.Prefix, i), IP: ip}
	host, peer := fmt.Sprintf("%sh%d", s.Prefix, i), fmt.Sprintf("%sn%d", s.Prefix, i)
	if err := s.run("ip", "netns", "add", n.NetNS); err != nil {
		return nil, err
	}
	s.onClose(func() error { return s.run("ip", "netns", "del", n.NetNS) })
	ns := func(args ...string) []string { return append([]string{"ip", "-n", n.NetNS}, args...) }
	if err := s.runAll([][]string{
		{"ip", "link", "add", host, "type", "veth", "peer", "name", peer},
		{"ip", "link", "set", peer, "netns", n.NetNS},
		{"ip", "link", "set", host, "master", s.Bridge, "up"},
		ns("link", "set", peer, "name", "eth0"),
		ns("addr", "add", ip+"/24", "dev", "eth0"),
		ns("link", "set", "eth0", "up"),
		ns("link", "set", "lo", "up"),
		ns("route", "add", "default", "via", gw),
		// Containers leave the node under its address, as on a real host (the engine itself runs with
		// --iptables=false, so it sets up no NAT); the rule goes with the namespace.
		{"ip", "netns", "exec", n.NetNS, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "eth0", "-j", "MASQUERADE"},
	}); err != nil {
		return nil, err
	}
	n.dir = fmt.Sprintf("%s/%d", s.dir, i)
	if err := os.MkdirAll(n.dir, 0o700); err != nil {
		return nil, err
	}
	// Registered before the start: a dockerd that came up half-way is stopped too. Containers go first, so none
	// is left running in the shared containerd.
	s.onClose(func() error {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if n.Client != nil {
			_, _ = n.Client.SwarmLeave(cctx, client.SwarmLeaveOptions{Force: true})
		}
		err := n.removeContainers(cctx)
		err = errors.Join(err, n.StopEngine())
		if n.Client != nil {
			n.Client.Close()
		}
		// A dockerd killed hard may leave its overlay mounts behind.
		_ = exec.Command("sh", "-c", "grep -o '"+n.dir+"[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l").Run()
		return err
	})
	return n, n.startEngine(ctx)
}

// form makes node 0 the manager, advertising on the bridge, and joins the others as workers.
func (s *Swarm) form(ctx context.Context) error {
	mgr := s.Nodes[0]
	res, err := mgr.Client.SwarmInit(ctx, client.SwarmInitOptions{ListenAddr: mgr.IP + ":2377", AdvertiseAddr: mgr.IP + ":2377"})
	if err != nil {
		return fmt.Errorf("swarm init on %s: %w", mgr.IP, err)
	}
	mgr.ID = res.NodeID
	info, err := mgr.Client.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return err
	}
	for _, n := range s.Nodes[1:] {
		if _, err := n.Client.SwarmJoin(ctx, client.SwarmJoinOptions{ListenAddr: n.IP + ":2377", AdvertiseAddr: n.IP + ":2377",
			RemoteAddrs: []string{mgr.IP + ":2377"}, JoinToken: info.Swarm.JoinTokens.Worker}); err != nil {
			return fmt.Errorf("swarm join of %s: %w", n.IP, err)
		}
		ni, err := n.Client.Info(ctx, client.InfoOptions{})
		if err != nil {
			return err
		}
		n.ID = ni.Info.Swarm.NodeID
	}
	return nil
}

// LoadImages copies images from the machine's engine into every node (there is no registry to pull from).
func (s *Swarm) LoadImages(ctx context.Context, images ...string) error {
	host, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	defer host.Close()
	for _, n := range s.Nodes {
		r, err := host.ImageSave(ctx, images)
		if err != nil {
			return fmt.Errorf("save %v: %w", images, err)
		}
		res, err := n.Client.ImageLoad(ctx, r, client.ImageLoadWithQuiet(true))
		r.Close()
		if err != nil {
			return fmt.Errorf("load %v into node %d: %w", images, n.Index, err)
		}
		_, err = io.Copy(io.Discard, res)
		res.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// Manager is the manager node's engine.
func (s *Swarm) Manager() *SwarmNode { return s.Nodes[0] }

// Close undoes everything NewSwarm made, in reverse order, and reports every step that failed.
func (s *Swarm) Close() error {
	var errs []error
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		errs = append(errs, s.cleanup[i]())
	}
	s.cleanup = nil
	return errors.Join(errs...)
}

func (s *Swarm) onClose(f func() error) { s.cleanup = append(s.cleanup, f) }

func (s *Swarm) run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (s *Swarm) runAll(cmds [][]string) error {
	for _, c := range cmds {
		if err := s.run(c[0], c[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// freeSubnet picks a 10.77.X.0/24 that no interface of the machine uses yet.
func freeSubnet() (int, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return 0, err
	}
	used := map[int]bool{}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip4 := ipn.IP.To4(); ip4 != nil && ip4[0] == 10 && ip4[1] == 77 {
				used[int(ip4[2])] = true
			}
		}
	}
	var b [1]byte
	for range 64 {
		_, _ = rand.Read(b[:])
		if x := 100 + int(b[0])%150; !used[x] {
			return x, nil
		}
	}
	return 0, errors.New("no free 10.77.X.0/24 subnet")
}

// LabelNode sets labels on node i through the manager, as an operator's `docker node update --label-add` would.
func (s *Swarm) LabelNode(ctx context.Context, i int, labels map[string]string) error {
	mgr, n := s.Manager().Client, s.Nodes[i]
	res, err := mgr.NodeInspect(ctx, n.ID, client.NodeInspectOptions{})
	if err != nil {
		return err
	}
	spec := res.Node.Spec
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	for k, v := range labels {
		spec.Labels[k] = v
	}
	_, err = mgr.NodeUpdate(ctx, n.ID, client.NodeUpdateOptions{Version: res.Node.Version, Spec: spec})
	return err
}
