package deployer

import (
	"context"
	"slices"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/swarm"

	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
	"github.com/m2mnet/m2m/stack/settings/settingstest"
)

// On a Swarm, replica i starts once its own format job completed (not every job), and what shares no volume
// with a job starts at once; a declared depends_on is honoured too.
func TestSwarmPrerequisitesTieEachReplicaToItsOwnFormat(t *testing.T) {
	raw := settingstest.Sample()
	raw[settings.DeployTarget], raw[settings.TigerBeetleReplicaCount] = settings.TargetSwarm, "3"
	raw[settings.TigerBeetleReplicaAddresses] = "10.77.0.10:3000,10.77.0.11:3000,10.77.0.12:3000"
	v, err := settings.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := stack.SwarmStack(context.Background(), v, stack.LoadOptions{WorkingDir: t.TempDir(), Environment: raw})
	if err != nil {
		t.Fatal(err)
	}
	after := prerequisites(p)
	want := map[string][]string{}
	for i := range 3 {
		want[stack.ReplicaService(i)] = []string{stack.ReplicaFormatService(i)}
		want[stack.ReplicaFormatService(i)] = nil
	}
	for _, name := range []string{settings.ServiceConnector, settings.ServicePrometheus, settings.ServiceGrafana} {
		want[name] = nil
	}
	if len(after) != len(want) {
		t.Errorf("prerequisites of %d services, want %d: %v", len(after), len(want), after)
	}
	for name, deps := range want {
		if got, ok := after[name]; !ok || !slices.Equal(got, deps) {
			t.Errorf("%s waits for %v, want %v", name, got, deps)
		}
	}

	// A declared dependency (a Compose-shaped project) counts as well, once.
	db := p.Services[stack.ReplicaService(0)]
	c := p.Services[settings.ServiceConnector]
	c.DependsOn = map[string]types.ServiceDependency{db.Name: {}, "absent": {}}
	p.Services[c.Name] = c
	if got := prerequisites(p)[c.Name]; !slices.Equal(got, []string{db.Name}) {
		t.Errorf("connector with depends_on %v waits for %v, want [%s]", c.DependsOn, got, db.Name)
	}
}

// An updated job runs again: its previous run's complete task does not count until the new run has a task.
func TestSwarmJobTaskCountsOnlyForItsLatestRun(t *testing.T) {
	run := func(i uint64) *swarm.Version { return &swarm.Version{Index: i} }
	job := func(i uint64) swarm.Service { return swarm.Service{JobStatus: &swarm.JobStatus{JobIteration: *run(i)}} }
	for _, tc := range []struct {
		name string
		svc  swarm.Service
		task swarm.Task
		want bool
	}{
		{"first run", job(0), swarm.Task{JobIteration: run(0)}, true},
		{"after an update", job(7), swarm.Task{JobIteration: run(0)}, false},
		{"the update's run", job(7), swarm.Task{JobIteration: run(7)}, true},
		{"an engine that reports no iteration", swarm.Service{}, swarm.Task{}, true},
	} {
		if got := thisRun(tc.svc, tc.task); got != tc.want {
			t.Errorf("%s: thisRun = %v, want %v", tc.name, got, tc.want)
		}
	}
}
