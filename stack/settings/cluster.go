package settings

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Settings of where the stack runs and how many TigerBeetle replicas it has (issue 16).
const (
	DeployTarget                = "DEPLOY_TARGET"
	TigerBeetleReplicaCount     = "TIGERBEETLE_REPLICA_COUNT"
	TigerBeetleReplicaAddresses = "TIGERBEETLE_REPLICA_ADDRESSES"
	NetworkSubnet               = "NETWORK_SUBNET"
)

// Deployment targets (DEPLOY_TARGET).
const (
	TargetCompose = "compose"
	TargetSwarm   = "swarm"
)

// FileSuffix names, appended to a secret setting, a variable that holds the path of a file with its value
// (NODE_PRIVATE_KEY_FILE=/run/secrets/…): how a Swarm secret reaches the code without an environment variable.
const FileSuffix = "_FILE"

// firstReplicaHost is the host number, in NETWORK_SUBNET, of replica 0; replica i is at firstReplicaHost+i.
const firstReplicaHost = 10

func clusterSchema() (node, ledger []Setting) {
	node = []Setting{
		{Name: DeployTarget, Group: GroupNode, Doc: "Where m2mctl deploys the stack: compose (the Docker Engine of this host) or swarm (a Docker Swarm across hosts, one TigerBeetle replica per labelled node).",
			Default: TargetCompose, Choices: []string{TargetCompose, TargetSwarm}},
	}
	ledger = []Setting{
		{Name: TigerBeetleReplicaCount, Group: GroupLedger, Doc: "How many TigerBeetle replicas form the ledger's cluster (TigerBeetle advises 3 or 6, one per machine); fixed at the first format.",
			Default: "1", Choices: []string{"1", "3", "6"}},
		{Name: NetworkSubnet, Group: GroupLedger, Doc: "IPv4 subnet of the project network when more than one replica runs on one host (DEPLOY_TARGET=compose): replica i gets the fixed address .10+i, since TigerBeetle takes only IP literals.",
			Default: "172.30.77.0/24", Validate: validSubnet},
		{Name: TigerBeetleReplicaAddresses, Group: GroupLedger, Doc: "With DEPLOY_TARGET=swarm: IP:port of each replica, in replica order, comma-separated; replica i listens on its node's address (host networking on the node labelled io.m2m.tigerbeetle.replica=i). m2mctl init --target swarm writes it from the nodes it labels.",
			Example: "10.0.0.11:3000,10.0.0.12:3000,10.0.0.13:3000", RequiredWhen: when(DeployTarget, TargetSwarm), Validate: validIPPortList},
	}
	return node, ledger
}

// ReplicaCount is TIGERBEETLE_REPLICA_COUNT (1 when unset).
func (v Values) ReplicaCount() int {
	if n, err := strconv.Atoi(v[TigerBeetleReplicaCount]); err == nil && n > 0 {
		return n
	}
	return 1
}

// ReplicaIPs returns the fixed address of each replica in NETWORK_SUBNET, for n replicas on one host.
func (v Values) ReplicaIPs(n int) []netip.Addr {
	p, err := netip.ParsePrefix(v[NetworkSubnet])
	if err != nil {
		p = netip.MustParsePrefix("172.30.77.0/24")
	}
	a := p.Masked().Addr().As4()
	out := make([]netip.Addr, n)
	for i := range out {
		b := a
		b[3] += byte(firstReplicaHost + i)
		out[i] = netip.AddrFrom4(b)
	}
	return out
}

func validSubnet(s string) error {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() || p.Bits() < 16 || p.Bits() > 27 || p.Masked() != p {
		return errors.New("must be an IPv4 subnet from /16 to /27 written with its network address, such as 172.30.77.0/24")
	}
	return nil
}

// validIPPortList accepts IP-literal:port items separated by commas; TigerBeetle refuses names.
func validIPPortList(s string) error {
	for _, item := range strings.Split(s, ",") {
		ap, err := netip.ParseAddrPort(strings.TrimSpace(item))
		if err != nil || ap.Port() == 0 {
			return fmt.Errorf("%q is not IP:port: list every replica as an IP literal and a port (TigerBeetle takes no names), such as 10.0.0.11:3000", item)
		}
	}
	return nil
}

// validHostPortList accepts one host:port or several, comma-separated (one per replica).
func validHostPortList(s string) error {
	for _, item := range strings.Split(s, ",") {
		if err := validHostPort(strings.TrimSpace(item)); err != nil {
			return err
		}
	}
	return nil
}

// clusterChecks: on Swarm, TIGERBEETLE_REPLICA_ADDRESSES lists exactly one address per replica.
func clusterChecks(v Values, entries map[string]entry) []Problem {
	if v[DeployTarget] != TargetSwarm || v[TigerBeetleReplicaAddresses] == "" || validIPPortList(v[TigerBeetleReplicaAddresses]) != nil {
		return nil
	}
	if got, want := len(strings.Split(v[TigerBeetleReplicaAddresses], ",")), v.ReplicaCount(); got != want {
		return []Problem{{Key: TigerBeetleReplicaAddresses, Line: entries[TigerBeetleReplicaAddresses].line, Value: v[TigerBeetleReplicaAddresses],
			Msg: fmt.Sprintf("lists %d addresses but %s=%d: give one IP:port per replica, in replica order", got, TigerBeetleReplicaCount, want)}}
	}
	return nil
}

// secretFiles adds, for each secret setting S with S_FILE=path in environ and no S of its own, S=<the file's
// content> (a trailing newline dropped). A file that cannot be read is a problem naming the variable and path.
func secretFiles(environ []string) ([]string, []Problem) {
	set := map[string]bool{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && v != "" {
			set[k] = true
		}
	}
	out := environ
	var problems []Problem
	for _, kv := range environ {
		k, path, _ := strings.Cut(kv, "=")
		name, ok := strings.CutSuffix(k, FileSuffix)
		if s, known := Lookup(name); !ok || !known || !s.Secret || set[name] || path == "" {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			why, pe := err.Error(), (*fs.PathError)(nil)
			if errors.As(err, &pe) {
				why = pe.Err.Error()
			}
			problems = append(problems, Problem{Key: k, Value: path, Msg: "cannot be read (" + why + "): mount the secret at that path or unset " + k})
			continue
		}
		out = append(out[:len(out):len(out)], name+"="+strings.TrimRight(string(b), "\r\n"))
	}
	return out, problems
}
