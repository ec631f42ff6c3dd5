package deployer_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mnet/m2m/deployer"
)

// engineChecksLate gives the health checks of tigerbeetle (CMD-SHELL) and prometheus (CMD) an interval of an
// hour: on API 1.41 the engine runs the first check only after that long, so within a test every health verdict
// a dependent goes on is the deployer's own run of the test, whatever the machine's load.
func engineChecksLate(t *testing.T, yaml string) string {
	t.Helper()
	for _, test := range []string{`["CMD-SHELL", "echo | nc -w 1 127.0.0.1 3000"]`,
		`["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9090/-/healthy"]`} {
		old := "test: " + test + "\n      interval: 1s"
		if !strings.Contains(yaml, old) {
			t.Fatalf("test YAML has no health check %s with a 1s interval", test)
		}
		yaml = strings.Replace(yaml, old, "test: "+test+"\n      interval: 1h", 1)
	}
	return yaml
}

// upUntil runs Up until stop(events so far) says enough or ctx ends, then interrupts it; it returns the events
// it reported and Up's error.
func upUntil(ctx context.Context, t *testing.T, s *testStack, stop func([]deployer.Event) bool) ([]deployer.Event, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var seen []deployer.Event
	_, err := s.d.Up(ctx, s.project(), deployer.UpOptions{
		Options: deployer.Options{Pull: deployer.PullNever},
		Reporter: deployer.ReporterFunc(func(e deployer.Event) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, e)
			if stop(seen) {
				cancel()
			}
		}),
	})
	mu.Lock()
	defer mu.Unlock()
	return append([]deployer.Event(nil), seen...), err
}

func eventAt(events []deployer.Event, name, status string) (time.Time, bool) {
	for _, e := range events {
		if e.Name == name && e.Status == status {
			return e.Time, true
		}
	}
	return time.Time{}, false
}

func TestDependentsStartWhenTheHealthTestPassesNotAfterTheFirstInterval(t *testing.T) {
	s := newTestStack(t)
	s.yaml = engineChecksLate(t, s.yaml)
	events, err := upUntil(testCtx(t), t, s, func(seen []deployer.Event) bool {
		_, ok := eventAt(seen, "grafana", deployer.StatusStarted)
		return ok
	})
	if !errors.Is(err, deployer.ErrInterrupted) {
		t.Fatalf("up returned %v, want it interrupted once grafana started", err)
	}
	for _, c := range []struct{ dep, dependent string }{{"tigerbeetle", "connector"}, {"prometheus", "grafana"}} {
		depAt, ok1 := eventAt(events, c.dep, deployer.StatusStarted)
		at, ok2 := eventAt(events, c.dependent, deployer.StatusStarted)
		if !ok1 || !ok2 {
			t.Errorf("%s started=%t, %s started=%t; want both before the engine's first health check (1h)",
				c.dep, ok1, c.dependent, ok2)
			continue
		}
		if at.Before(depAt) {
			t.Errorf("%s started before %s, which it waits on (service_healthy)", c.dependent, c.dep)
		}
	}
	// The engine has not run its own first check yet: dependents went ahead on the deployer's run of the test.
	if h := s.statuses(testCtx(t))["tigerbeetle"].Health; h != "starting" {
		t.Errorf("tigerbeetle engine health %q, want starting (its first check is an hour after start)", h)
	}
}

func TestFailingHealthTestHoldsDependentsBack(t *testing.T) {
	s := newTestStack(t)
	s.yaml = engineChecksLate(t, s.yaml)
	// The failing test leaves a line in a host file each time it runs, so the test can wait for the deployer
	// to have run it (and seen it fail) several times instead of guessing how long that takes.
	runs := filepath.Join(s.dir, "probe-runs")
	if err := os.Mkdir(runs, 0o777); err != nil {
		t.Fatal(err)
	}
	s.yaml = strings.Replace(s.yaml, `["CMD-SHELL", "echo | nc -w 1 127.0.0.1 3000"]`,
		`["CMD-SHELL", "echo run >> /probe-runs/log; echo | nc -w 1 127.0.0.1 3999"]`, 1)
	s.yaml = strings.Replace(s.yaml, "    volumes: [tigerbeetle-data:/data]\n    restart: unless-stopped",
		"    volumes: [tigerbeetle-data:/data, \""+runs+":/probe-runs\"]\n    restart: unless-stopped", 1)
	if !strings.Contains(s.yaml, runs+":/probe-runs") {
		t.Fatal("test YAML: tigerbeetle's volumes line was not found to mount the probe log")
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	const failures = 3
	go func() {
		defer cancel()
		for ctx.Err() == nil {
			if b, err := os.ReadFile(filepath.Join(runs, "log")); err == nil && strings.Count(string(b), "\n") >= failures {
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	events, err := upUntil(ctx, t, s, func([]deployer.Event) bool { return false })
	if !errors.Is(err, deployer.ErrInterrupted) {
		t.Fatalf("up returned %v, want it still waiting (interrupted) while tigerbeetle's health test fails", err)
	}
	if b, _ := os.ReadFile(filepath.Join(runs, "log")); strings.Count(string(b), "\n") < failures {
		t.Fatalf("the deployer ran tigerbeetle's health test %d times before the test's deadline, want %d; events %+v",
			strings.Count(string(b), "\n"), failures, events)
	}
	if _, ok := eventAt(events, "connector", deployer.StatusStarted); ok {
		t.Errorf("connector started although tigerbeetle's health test failed %d times and never passed", failures)
	}
}
