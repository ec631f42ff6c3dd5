package stack

import (
	"fmt"
	"strings"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/compose-spec/compose-go/v2/types"
)

// Node labels that place the stack on a Swarm: replica i of TigerBeetle runs on the node labelled
// io.m2m.tigerbeetle.replica=i, and the public edge (BTP, the connector, monitoring) on the node labelled
// io.m2m.edge=true.
const (
	NodeLabelReplica = "io.m2m.tigerbeetle.replica"
	NodeLabelEdge    = "io.m2m.edge"
)

// ReplicaPort is the port a TigerBeetle replica listens on unless TIGERBEETLE_REPLICA_ADDRESSES says another:
// on a Swarm, the port in each replica's entry of that list, on its node's address.
const ReplicaPort = containerTBPort

// ReplicaService is the service of TigerBeetle replica i when the ledger has several replicas (or runs on a
// Swarm); ReplicaFormatService formats its data file and ReplicaVolume holds it.
func ReplicaService(i int) string       { return fmt.Sprintf("%s-%d", settings.ServiceTigerBeetle, i) }
func ReplicaFormatService(i int) string { return fmt.Sprintf("%s-%d", settings.ServiceFormat, i) }
func ReplicaVolume(i int) string        { return fmt.Sprintf("%s-%d", VolumeTigerBeetle, i) }

// ReplicaDataFile is replica i's data file, named as TigerBeetle names it (<cluster>_<replica>); replica 0's
// is DataFile.
func ReplicaDataFile(i int) string { return fmt.Sprintf("/data/0_%d.tigerbeetle", i) }

// replicate turns the one-replica ledger of p into n replicas on one host: each with its own format one-shot,
// volume and fixed address on the project network, every replica and the connector given all the addresses as
// IP literals (TigerBeetle takes no names). One replica leaves p as it is.
func replicate(v settings.Values, p *types.Project) {
	n := v.ReplicaCount()
	if n <= 1 {
		return
	}
	ips := v.ReplicaIPs(n)
	addrs := make([]string, n)
	for i, ip := range ips {
		addrs[i] = fmt.Sprintf("%s:%d", ip, containerTBPort)
	}
	delete(p.Services, settings.ServiceFormat)
	delete(p.Services, settings.ServiceTigerBeetle)
	delete(p.Volumes, VolumeTigerBeetle)
	deps := types.DependsOnConfig{}
	for i := range n {
		f := replicaFormat(i, n)
		p.Services[f.Name] = f
		tb := tigerBeetleService()
		tb.Name = ReplicaService(i)
		tb.Command = types.ShellCommand{"start", "--addresses=" + strings.Join(addrs, ","),
			"--cache-grid=" + ref(settings.TigerBeetleCacheGrid), ReplicaDataFile(i)}
		tb.Volumes = []types.ServiceVolumeConfig{volume(ReplicaVolume(i), "/data", false)}
		// A replica listens on its own entry of --addresses only.
		tb.HealthCheck.Test = types.HealthCheckTest{"CMD-SHELL", fmt.Sprintf("timeout 2 nc %s %d </dev/null; test $$? -ne 1", ips[i], containerTBPort)}
		tb.DependsOn = types.DependsOnConfig{f.Name: {Condition: types.ServiceConditionCompletedSuccessfully, Required: true}}
		tb.Networks = map[string]*types.ServiceNetworkConfig{NetworkName: {Ipv4Address: ips[i].String()}}
		p.Services[tb.Name] = tb
		p.Volumes[ReplicaVolume(i)] = types.VolumeConfig{}
		deps[tb.Name] = types.ServiceDependency{Condition: types.ServiceConditionHealthy, Required: true}
	}
	net := p.Networks[NetworkName]
	net.Ipam = types.IPAMConfig{Config: []*types.IPAMPool{{Subnet: v.String(settings.NetworkSubnet)}}}
	p.Networks[NetworkName] = net
	c := p.Services[settings.ServiceConnector]
	list := strings.Join(addrs, ",")
	c.Environment[settings.TigerBeetleAddress] = &list
	c.DependsOn = deps
	p.Services[c.Name] = c
}

// replicaFormat is the format one-shot of replica i of n.
func replicaFormat(i, n int) types.ServiceConfig {
	f := formatService()
	f.Name = ReplicaFormatService(i)
	f.Command = types.ShellCommand{formatScriptFor(i, n)}
	f.Labels = types.Labels{LabelDoneIfExists: ReplicaDataFile(i)}
	f.Volumes = []types.ServiceVolumeConfig{volume(ReplicaVolume(i), "/data", false)}
	return f
}
