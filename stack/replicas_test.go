package stack

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/stack/settings"
	"github.com/m2mnet/m2m/stack/settings/settingstest"

	"github.com/compose-spec/compose-go/v2/types"
)

func sampleWith(t *testing.T, extra map[string]string) settings.Values {
	t.Helper()
	raw := settingstest.Sample()
	for k, v := range extra {
		raw[k] = v
	}
	v, err := settings.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOneReplicaIsTheStackAsBefore(t *testing.T) {
	one, _ := YAML(Build(sampleWith(t, map[string]string{settings.TigerBeetleReplicaCount: "1"})))
	unset, _ := YAML(Build(sampleWith(t, nil)))
	if !bytes.Equal(one, unset) {
		t.Fatal("TIGERBEETLE_REPLICA_COUNT=1 changed the stack")
	}
	if !bytes.Contains(one, []byte("  tigerbeetle:\n")) || bytes.Contains(one, []byte("tigerbeetle-0")) {
		t.Fatal("one replica is not the service tigerbeetle")
	}
}

// Three replicas on one host: each its own format one-shot and volume, a fixed address in NETWORK_SUBNET, and
// every replica and the connector given all three addresses as IP literals; compose-go's loader accepts it.
func TestThreeReplicasOnOneHostGetFixedAddresses(t *testing.T) {
	v := sampleWith(t, map[string]string{settings.TigerBeetleReplicaCount: "3", settings.NetworkSubnet: "10.201.7.0/24"})
	p, err := Project(context.Background(), v, LoadOptions{WorkingDir: t.TempDir(), Environment: settingstest.Sample()})
	if err != nil {
		t.Fatal(err)
	}
	want := "10.201.7.10:3000,10.201.7.11:3000,10.201.7.12:3000"
	for _, gone := range []string{settings.ServiceTigerBeetle, settings.ServiceFormat} {
		if _, ok := p.Services[gone]; ok {
			t.Errorf("service %s still there with three replicas", gone)
		}
	}
	seenVolumes := map[string]bool{}
	for i := range 3 {
		tb, err := p.GetService(ReplicaService(i))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(tb.Command, "--addresses="+want) || !slices.Contains(tb.Command, ReplicaDataFile(i)) {
			t.Errorf("%s command %q: want --addresses=%s and %s", tb.Name, tb.Command, want, ReplicaDataFile(i))
		}
		if ip := tb.Networks[NetworkName].Ipv4Address; ip != strings.Split(strings.Split(want, ",")[i], ":")[0] {
			t.Errorf("%s address %q", tb.Name, ip)
		}
		f, err := p.GetService(ReplicaFormatService(i))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(f.Command[0], "--replica="+string(rune('0'+i))+" --replica-count=3 ") || f.Labels[LabelDoneIfExists] != ReplicaDataFile(i) {
			t.Errorf("%s: command %q, label %q", f.Name, f.Command[0], f.Labels[LabelDoneIfExists])
		}
		if tb.Volumes[0].Source != f.Volumes[0].Source || seenVolumes[tb.Volumes[0].Source] {
			t.Errorf("replica %d volume %s: not its own or not shared with its format", i, tb.Volumes[0].Source)
		}
		seenVolumes[tb.Volumes[0].Source] = true
		if d := tb.DependsOn[f.Name]; d.Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("%s does not wait for %s", tb.Name, f.Name)
		}
	}
	c, _ := p.GetService(settings.ServiceConnector)
	if got := *c.Environment[settings.TigerBeetleAddress]; got != want {
		t.Errorf("connector TIGERBEETLE_ADDRESS = %q, want %q", got, want)
	}
	if len(c.DependsOn) != 3 {
		t.Errorf("connector depends on %v, want the three replicas", c.DependsOn)
	}
	if sub := p.Networks[NetworkName].Ipam.Config; len(sub) != 1 || sub[0].Subnet != "10.201.7.0/24" {
		t.Errorf("network IPAM %+v", p.Networks[NetworkName].Ipam)
	}
}
