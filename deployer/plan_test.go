package deployer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

const planYAML = `
name: plantest
services:
  format:
    image: busybox
    command: ["true"]
    restart: "no"
    labels: {io.m2m.done-if-exists: /data/done}
    volumes: [data:/data]
  db:
    image: busybox
    restart: unless-stopped
    depends_on:
      format: {condition: service_completed_successfully}
    configs: [{source: conf, target: /etc/db.conf}]
    volumes: [data:/data]
  app:
    image: busybox
    restart: unless-stopped
    environment: {SETTING: "${SETTING:-a}"}
    depends_on:
      db: {condition: service_healthy}
      extra: {condition: service_started, required: false}
  extra:
    image: busybox
    profiles: [off]
volumes:
  data: {}
configs:
  conf:
    file: ./db.conf
`

func loadPlanProject(t *testing.T, dir string, env map[string]string) *types.Project {
	t.Helper()
	path := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(path, []byte(planYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir: dir, ConfigFiles: []types.ConfigFile{{Filename: path}}, Environment: env,
	}, func(o *loader.Options) { o.SetProjectName("plantest", true) })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func hashes(t *testing.T, p *types.Project) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, s := range p.Services {
		h, err := ConfigHash(s)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = h
	}
	return out
}

func TestPlanActionsFollowObservedState(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "db.conf"), []byte("a=1\n"), 0o644)
	p := loadPlanProject(t, dir, nil)
	h := hashes(t, p)
	running := func(svc string) Container {
		return Container{ID: svc + "-id", Service: svc, State: stateRunning, ConfigHash: h[svc], ImageID: "sha256:img"}
	}
	tests := []struct {
		name     string
		observed map[string][]Container
		want     map[string]Action
		reason   map[string]string
	}{
		{name: "nothing exists", observed: nil,
			want: map[string]Action{"format": ActionCreate, "db": ActionCreate, "app": ActionCreate}},
		{name: "all up to date", observed: map[string][]Container{
			"format": {{ID: "f", Service: "format", State: stateExited, ExitCode: 0, ConfigHash: h["format"]}},
			"db":     {running("db")}, "app": {running("app")}},
			want: map[string]Action{"format": ActionKeep, "db": ActionKeep, "app": ActionKeep}},
		{name: "changed hash recreates only that service", observed: map[string][]Container{
			"format": {{ID: "f", Service: "format", State: stateCreated, ConfigHash: h["format"], Done: true}},
			"db":     {running("db")},
			"app":    {{ID: "a", Service: "app", State: stateRunning, ConfigHash: "old"}}},
			want:   map[string]Action{"format": ActionKeep, "db": ActionKeep, "app": ActionRecreate},
			reason: map[string]string{"format": "already done", "app": "configuration changed"}},
		{name: "stopped and failed containers are started", observed: map[string][]Container{
			"format": {{ID: "f", Service: "format", State: stateExited, ExitCode: 1, ConfigHash: h["format"]}},
			"db":     {{ID: "d", Service: "db", State: stateExited, ExitCode: 137, ConfigHash: h["db"]}},
			"app":    {running("app")}},
			want:   map[string]Action{"format": ActionStart, "db": ActionStart, "app": ActionKeep},
			reason: map[string]string{"db": "exit 137"}},
		{name: "an edited config file recreates the service that mounts it", observed: map[string][]Container{
			"format": {{ID: "f", Service: "format", State: stateExited, ConfigHash: h["format"]}},
			"db":     {{ID: "d", Service: "db", State: stateRunning, ConfigHash: h["db"], Labels: map[string]string{LabelFilesHash: "before-the-edit"}}},
			"app":    {running("app")}},
			want:   map[string]Action{"format": ActionKeep, "db": ActionRecreate, "app": ActionKeep},
			reason: map[string]string{"db": "file changed"}},
		{name: "new image recreates", observed: map[string][]Container{
			"format": {{ID: "f", Service: "format", State: stateExited, ConfigHash: h["format"]}},
			"db":     {running("db")},
			"app":    {{ID: "a", Service: "app", State: stateRunning, ConfigHash: h["app"], ImageID: "sha256:older"}}},
			want: map[string]Action{"format": ActionKeep, "db": ActionKeep, "app": ActionRecreate}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs := &Observed{Containers: tc.observed}
			if obs.Containers == nil {
				obs.Containers = map[string][]Container{}
			}
			for _, cs := range obs.Containers {
				for i := range cs {
					if cs[i].ImageID == "" {
						cs[i].ImageID = "sha256:img"
					}
				}
			}
			plan, err := planFrom(p, obs, map[string]string{"busybox": "sha256:img"})
			if err != nil {
				t.Fatal(err)
			}
			var order []string
			for _, s := range plan.Services {
				order = append(order, s.Service)
				if s.Action != tc.want[s.Service] {
					t.Errorf("%s: action %s (%s), want %s", s.Service, s.Action, s.Reason, tc.want[s.Service])
				}
				if r := tc.reason[s.Service]; r != "" && !strings.Contains(s.Reason, r) {
					t.Errorf("%s: reason %q, want it to mention %q", s.Service, s.Reason, r)
				}
			}
			if strings.Join(order, ",") != "format,db,app" {
				t.Errorf("order %v, want dependencies first: format,db,app", order)
			}
		})
	}
}

func TestPlanListsOrphansButNotServicesOffByProfile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "db.conf"), []byte("a=1\n"), 0o644)
	p := loadPlanProject(t, dir, nil)
	obs := &Observed{Containers: map[string][]Container{
		"gone":  {{ID: "g", Name: "plantest-gone-1", Service: "gone", State: stateRunning}},
		"extra": {{ID: "t", Name: "plantest-extra-1", Service: "extra", State: stateRunning}},
	}}
	plan, err := planFrom(p, obs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Orphans) != 1 || plan.Orphans[0].Service != "gone" || plan.Orphans[0].Action != ActionRemoveOrphan {
		t.Errorf("orphans %+v, want only gone", plan.Orphans)
	}
}

func TestDependencyCycleIsAnError(t *testing.T) {
	p := &types.Project{Name: "x", Services: types.Services{
		"a": {Name: "a", WorkloadSpec: types.WorkloadSpec{DependsOn: types.DependsOnConfig{"b": {Condition: "service_started", Required: true}}}},
		"b": {Name: "b", WorkloadSpec: types.WorkloadSpec{DependsOn: types.DependsOnConfig{"a": {Condition: "service_started", Required: true}}}},
	}}
	if _, err := dependencyOrder(p); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("dependencyOrder on a cycle: %v, want a cycle error", err)
	}
}

func TestStopOrderStopsDependentsFirst(t *testing.T) {
	obs := &Observed{Containers: map[string][]Container{
		"format":  {{Labels: map[string]string{}}},
		"db":      {{Labels: map[string]string{LabelDependsOn: "format:service_completed_successfully:false"}}},
		"app":     {{Labels: map[string]string{LabelDependsOn: "db:service_healthy:false,missing:service_started:false"}}},
		"monitor": {{Labels: map[string]string{LabelDependsOn: "app:service_started:false"}}},
		"lone":    {{Labels: map[string]string{}}},
	}}
	got := stopOrder(obs)
	pos := map[string]int{}
	for i, level := range got {
		for _, s := range level {
			pos[s] = i
		}
	}
	for _, pair := range [][2]string{{"monitor", "app"}, {"app", "db"}, {"db", "format"}} {
		if pos[pair[0]] >= pos[pair[1]] {
			t.Errorf("stop order %v: %s must stop before %s", got, pair[0], pair[1])
		}
	}
	if len(pos) != 5 {
		t.Errorf("stop order %v misses services", got)
	}
}
