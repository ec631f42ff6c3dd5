package upgrade

import (
	"errors"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

const tb = "ghcr.io/tigerbeetle/tigerbeetle:"

func TestLedgerMovesOnlyForwardBySupportedSteps(t *testing.T) {
	tests := []struct {
		name, from, to, oldest string
		ok                     bool
		want                   string // in the reason
		unknown                bool
	}{
		{name: "same reference", from: tb + "0.17.9", to: tb + "0.17.9", ok: true},
		{name: "same release from a mirror", from: tb + "0.17.9", to: "registry.local:5000/tigerbeetle:0.17.9", ok: true},
		{name: "within the target's range", from: tb + "0.17.5", to: tb + "0.17.9", ok: true},
		{name: "the oldest supported release itself", from: tb + "0.17.4", to: tb + "0.17.8", ok: true},
		{name: "older than the target supports", from: tb + "0.17.3", to: tb + "0.17.9", want: "upgrades replicas from 0.17.5 onwards"},
		{name: "a minor release behind", from: tb + "0.16.52", to: tb + "0.17.9", want: "0.17.5 onwards"},
		{name: "backwards", from: tb + "0.17.9", to: tb + "0.17.8", want: "only moves forward"},
		{name: "unknown target", from: tb + "0.17.9", to: tb + "0.18.0", want: "Oldest upgradable replica version", unknown: true},
		{name: "unknown target, range given", from: tb + "0.17.9", to: tb + "0.18.0", oldest: "0.17.6", ok: true},
		{name: "unknown target, range given, too old", from: tb + "0.17.5", to: tb + "0.18.0", oldest: "0.17.6", want: "0.17.6 onwards"},
		{name: "untagged target", from: tb + "0.17.9", to: "tigerbeetle:latest", want: "cannot be read from its tag"},
		{name: "digest", from: tb + "0.17.9", to: "ghcr.io/tigerbeetle/tigerbeetle@sha256:0123", want: "cannot be read"},
		{name: "registry port is not a tag", from: tb + "0.17.9", to: "registry.local:5000/tigerbeetle", want: "cannot be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckLedgerStep(tt.from, tt.to, tt.oldest)
			if tt.ok {
				if err != nil {
					t.Fatalf("CheckLedgerStep(%s, %s) = %v, want allowed", tt.from, tt.to, err)
				}
				return
			}
			var se *ReleaseStepError
			if !errors.As(err, &se) || !strings.Contains(se.Reason, tt.want) || se.Unknown != tt.unknown {
				t.Fatalf("CheckLedgerStep(%s, %s) = %v, want a ReleaseStepError saying %q (unknown=%v)", tt.from, tt.to, err, tt.want, tt.unknown)
			}
			if !strings.Contains(err.Error(), tt.from) || !strings.Contains(err.Error(), tt.to) {
				t.Errorf("error %q does not name both images", err)
			}
		})
	}
}

func project(images map[string]string) *types.Project {
	p := &types.Project{Name: "p", Services: types.Services{}}
	for name, img := range images {
		s := types.ServiceConfig{Name: name}
		s.Image = img
		p.Services[name] = s
	}
	return p
}

func TestRollbackKeepsAForwardOnlyServiceOnlyOnceItWasHealthy(t *testing.T) {
	from := project(map[string]string{"ledger": "tb:1", "ledger-format": "tb:1", "app": "app:1", "web": "web:1"})
	to := project(map[string]string{"ledger": "tb:2", "ledger-format": "tb:2", "app": "app:2", "web": "web:1"})
	if got := Changes(from, to); len(got) != 3 || got[0].Service != "app" || got[1] != (Change{"ledger", "tb:1", "tb:2"}) {
		t.Fatalf("Changes = %+v", got)
	}

	back, kept := rollbackProject(from, to, map[string]bool{"ledger": true, "app": true}, []string{"ledger"})
	want := map[string]string{"ledger": "tb:2", "ledger-format": "tb:2", "app": "app:1", "web": "web:1"}
	for name, img := range want {
		if back.Services[name].Image != img {
			t.Errorf("after the ledger was healthy: %s rolls back to %s, want %s", name, back.Services[name].Image, img)
		}
	}
	if len(kept) != 2 || kept[0].Service != "ledger" || kept[1].Service != "ledger-format" {
		t.Errorf("kept = %+v, want ledger and ledger-format", kept)
	}
	if from.Services["ledger"].Image != "tb:1" {
		t.Error("rollbackProject changed its input")
	}

	back, kept = rollbackProject(from, to, map[string]bool{"app": true}, []string{"ledger"})
	if back.Services["ledger"].Image != "tb:1" || back.Services["ledger-format"].Image != "tb:1" || len(kept) != 0 {
		t.Errorf("a ledger that never became healthy: rolls back to %s, kept %+v; want tb:1 and nothing kept", back.Services["ledger"].Image, kept)
	}
}
