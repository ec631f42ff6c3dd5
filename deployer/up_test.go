package deployer_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/deployer"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestUpFromEmptyThenAgainChangesNothing(t *testing.T) {
	s := newTestStack(t)
	ctx := testCtx(t)
	plan := s.mustUp(ctx)
	for svc, a := range actions(plan) {
		if a != deployer.ActionCreate {
			t.Errorf("first up: %s action %s, want create", svc, a)
		}
	}
	st := s.statuses(ctx)
	for _, svc := range []string{"tigerbeetle", "connector", "prometheus", "grafana", "tigerbeetle-format"} {
		if !st[svc].OK {
			t.Errorf("after up, %s is %+v, want OK", svc, st[svc])
		}
	}
	if st["tigerbeetle"].Health != "healthy" || st["prometheus"].Health != "healthy" || st["grafana"].Health != "healthy" {
		t.Errorf("health: tigerbeetle %q prometheus %q grafana %q, want healthy", st["tigerbeetle"].Health, st["prometheus"].Health, st["grafana"].Health)
	}
	if st["tigerbeetle-format"].State != "completed" {
		t.Errorf("tigerbeetle-format state %q, want completed", st["tigerbeetle-format"].State)
	}
	if len(st["connector"].Ports) != 1 || !strings.HasPrefix(st["connector"].Ports[0], "127.0.0.1:") {
		t.Errorf("connector ports %v, want one binding on 127.0.0.1", st["connector"].Ports)
	}
	before, sum := s.snapshot(ctx), s.dataChecksum(ctx)

	plan = s.mustUp(ctx)
	for svc, a := range actions(plan) {
		if a != deployer.ActionKeep {
			t.Errorf("second up: %s action %s, want keep (%s)", svc, a, fmtActions(plan))
		}
	}
	if plan.Changes() {
		t.Errorf("second up reports changes: %+v", plan)
	}
	after := s.snapshot(ctx)
	for svc, id := range before {
		if after[svc] != id {
			t.Errorf("second up touched %s: %s → %s", svc, id, after[svc])
		}
	}
	if got := s.dataChecksum(ctx); got != sum {
		t.Errorf("data file changed over a second up: %s → %s", sum, got)
	}
}

func TestChangedSettingRecreatesOnlyThatService(t *testing.T) {
	s := newTestStack(t)
	ctx := testCtx(t)
	s.mustUp(ctx)
	before := s.snapshot(ctx)

	s.env["GRAFANA_SETTING"] = "two"
	plan := s.mustUp(ctx)
	if a := actions(plan)["grafana"]; a != deployer.ActionRecreate {
		t.Errorf("grafana action %s, want recreate (%s)", a, fmtActions(plan))
	}
	after := s.snapshot(ctx)
	for svc := range before {
		changed := after[svc] != before[svc]
		if changed != (svc == "grafana") {
			t.Errorf("%s changed=%t, want %t", svc, changed, svc == "grafana")
		}
	}
	if st := s.statuses(ctx)["grafana"]; st.Health != "healthy" {
		t.Errorf("recreated grafana health %q, want healthy", st.Health)
	}
}

func TestConfigFileChangeRecreatesItsService(t *testing.T) {
	s := newTestStack(t)
	ctx := testCtx(t)
	s.mustUp(ctx)
	if err := writeFile(s.dir+"/prometheus.yml", "global:\n  scrape_interval: 7s\n"); err != nil {
		t.Fatal(err)
	}
	plan, err := s.d.Plan(ctx, s.project(), deployer.Options{Pull: deployer.PullNever})
	if err != nil {
		t.Fatal(err)
	}
	got := actions(plan)
	if got["prometheus"] != deployer.ActionRecreate || got["grafana"] != deployer.ActionKeep {
		t.Errorf("after editing prometheus.yml: %s; want prometheus recreate, others keep", fmtActions(plan))
	}
}

func TestDownKeepsVolumesAndFormatRunsOnce(t *testing.T) {
	s := newTestStack(t)
	ctx := testCtx(t)
	s.mustUp(ctx)
	sum := s.dataChecksum(ctx)
	if err := s.d.Down(ctx, s.name, deployer.DownOptions{}); err != nil {
		t.Fatalf("down: %v", err)
	}
	if st := s.statuses(ctx); len(st) != 0 {
		t.Errorf("after down, containers remain: %v", st)
	}
	vols, err := s.d.Volumes(ctx, s.name)
	if err != nil {
		t.Fatal(err)
	}
	if len(vols) != 4 {
		t.Fatalf("after down, volumes %v, want the 4 named volumes kept", vols)
	}

	s.mustUp(ctx)
	if !s.sawEvent("tigerbeetle-format", deployer.StatusSkipped) {
		t.Errorf("second up on a formatted volume did not skip the format; events: %+v", s.events)
	}
	if st := s.statuses(ctx)["tigerbeetle-format"]; st.State != "not needed" || !st.OK {
		t.Errorf("tigerbeetle-format status %+v, want a never-started container reported as not needed", st)
	}
	if got := s.dataChecksum(ctx); got != sum {
		t.Errorf("data file changed: %s → %s", sum, got)
	}

	if err := s.d.Down(ctx, s.name, deployer.DownOptions{Volumes: true}); err != nil {
		t.Fatalf("down --volumes: %v", err)
	}
	if vols, _ := s.d.Volumes(ctx, s.name); len(vols) != 0 {
		t.Errorf("after down --volumes, volumes remain: %v", vols)
	}
	nets, err := s.cli.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("label", deployer.LabelProject+"="+s.name)})
	if err != nil || len(nets.Items) != 0 {
		t.Errorf("after down, networks remain: %v %v", nets.Items, err)
	}
}

func TestFailingHealthCheckFailsUpWithItsOutput(t *testing.T) {
	s := newTestStack(t)
	ctx := testCtx(t)
	s.yaml = strings.Replace(s.yaml, `test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:3000/api/health"]`,
		`test: ["CMD-SHELL", "echo probe-says-no-$$((40+2)); exit 1"]`, 1)
	s.yaml = strings.Replace(s.yaml, "retries: 30\n    volumes: [grafana-data", "retries: 2\n    volumes: [grafana-data", 1)
	start := time.Now()
	_, err := s.up(ctx)
	var se *deployer.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("up error = %v, want a *deployer.ServiceError", err)
	}
	if se.Service != "grafana" || !strings.Contains(se.HealthCheck, "probe-says-no-42") {
		t.Errorf("service error %q / health %q, want grafana with the probe's output", se.Service, se.HealthCheck)
	}
	if len(se.Logs) == 0 || !strings.Contains(strings.Join(se.Logs, "\n"), "grafana stand-in listening") {
		t.Errorf("service error logs %q, want the container's last lines", se.Logs)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("up took %s to fail; it should fail as soon as the service is unhealthy", d)
	}
}

func TestKilledContainerIsRestartedAndStatusShowsIt(t *testing.T) {
	s := newTestStack(t)
	ctx := testCtx(t)
	s.mustUp(ctx)
	id := s.containerID(ctx, "connector")
	res, err := s.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	seen := make(chan deployer.WatchEvent, 16)
	watched := make(chan error, 1)
	go func() {
		watched <- s.d.Watch(watchCtx, s.name, func(e deployer.WatchEvent) { seen <- e })
	}()
	time.Sleep(300 * time.Millisecond) // let the event stream open
	if err := syscall.Kill(res.Container.State.Pid, syscall.SIGKILL); err != nil {
		t.Skipf("cannot kill -9 the container's process from here (pid %d): %v", res.Container.State.Pid, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := s.statuses(ctx)["connector"]
		if st.Restarts >= 1 && st.State == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connector after kill -9: %+v, want running with restarts ≥ 1", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var got []string
	for len(got) < 2 {
		select {
		case e := <-seen:
			if e.Service == "connector" {
				got = append(got, e.Event+" "+e.Detail)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("watch saw %v, want the death and the restart", got)
		}
	}
	if got[0] != "died exit code 137" || !strings.HasPrefix(got[1], "started") {
		t.Errorf("watch saw %v, want [died exit code 137, started]", got)
	}
	stopWatch()
	if err := <-watched; err != nil {
		t.Errorf("watch ended with %v, want nil on cancel", err)
	}
}

func TestHostPortInUseNamesServiceAndSetting(t *testing.T) {
	s := newTestStack(t)
	ctx := testCtx(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	s.yaml = strings.Replace(s.yaml, `ports: ["127.0.0.1::8080"]`,
		`ports: ["127.0.0.1:`+itoa(port)+`:8080"]
    labels: {io.m2m.port-settings: "8080=CONNECTOR_HEALTH_PORT"}`, 1)
	_, err = s.up(ctx)
	if err == nil {
		t.Fatal("up succeeded with the connector's host port taken")
	}
	want := "port " + itoa(port) + " is already in use on 127.0.0.1 (service connector)"
	var pe *deployer.PortInUseError
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	} else if !errors.As(err, &pe) || pe.Setting != "CONNECTOR_HEALTH_PORT" || pe.Port != itoa(port) {
		t.Errorf("error %q: want a PortInUseError carrying the setting CONNECTOR_HEALTH_PORT from the label", err)
	}
}

func TestServiceGoneFromProjectIsAnOrphanRemovedOnRequest(t *testing.T) {
	s := newTestStack(t)
	ctx := testCtx(t)
	s.mustUp(ctx)
	s.yaml = s.yaml[:strings.Index(s.yaml, "  grafana:\n")] + s.yaml[strings.Index(s.yaml, "networks:\n  ilp"):]
	p := s.project()
	plan, err := s.d.Plan(ctx, p, deployer.Options{Pull: deployer.PullNever})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Orphans) != 1 || plan.Orphans[0].Service != "grafana" {
		t.Fatalf("orphans %+v, want grafana", plan.Orphans)
	}
	if _, err := s.d.Up(ctx, p, deployer.UpOptions{Options: deployer.Options{Pull: deployer.PullNever, RemoveOrphans: true}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.statuses(ctx)["grafana"]; ok {
		t.Error("grafana container still there after up --remove-orphans")
	}
}
