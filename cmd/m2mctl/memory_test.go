package main

import (
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

func TestLowMemoryWarningBelowTigerBeetlesSixGiB(t *testing.T) {
	tests := []struct {
		total int64
		want  string // "" for no warning
	}{
		{4 << 30, "has 4.0 GiB of memory"},
		{6<<30 - 1, "at least 6 GiB"},
		{6 << 30, ""},
		{24 << 30, ""},
		{0, ""}, // the engine did not say
	}
	for _, tc := range tests {
		got := lowMemoryWarning(tc.total)
		if tc.want == "" {
			if got != "" {
				t.Errorf("%d bytes: warning %q, want none", tc.total, got)
			}
			continue
		}
		if !strings.Contains(got, tc.want) || !strings.Contains(got, "TIGERBEETLE_CACHE_GRID=256MiB") || strings.Contains(got, "\n") {
			t.Errorf("%d bytes: warning %q; want one line containing %q and naming TIGERBEETLE_CACHE_GRID=256MiB", tc.total, got, tc.want)
		}
	}
}

func TestLowMemoryIsCheckedForAClusterOfReplicasToo(t *testing.T) {
	for _, tc := range []struct {
		services []string
		want     bool
	}{
		{[]string{settings.ServiceTigerBeetle, settings.ServiceConnector}, true},
		{[]string{stack.ReplicaFormatService(0), stack.ReplicaService(0), stack.ReplicaService(1), stack.ReplicaService(2)}, true},
		{[]string{settings.ServiceConnector, settings.ServicePrometheus}, false},
	} {
		p := &types.Project{Services: types.Services{}}
		for _, name := range tc.services {
			p.Services[name] = types.ServiceConfig{Name: name}
		}
		if got := runsTigerBeetle(p); got != tc.want {
			t.Errorf("services %v: runsTigerBeetle %v, want %v", tc.services, got, tc.want)
		}
	}
}
