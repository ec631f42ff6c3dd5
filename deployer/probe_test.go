package deployer_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2mnet/m2m/deployer"
)

// slowFirstCheck gives the health checks of tigerbeetle (CMD-SHELL) and prometheus (CMD) a 30 s interval: on
// API 1.41 the engine runs the first check only after that long.
func slowFirstCheck(t *testing.T, yaml string) string {
	t.Helper()
	for _, test := range []string{`["CMD-SHELL", "echo | nc -w 1 127.0.0.1 3000"]`,
		`["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9090/-/healthy"]`} {
		old := "test: " + test + "\n      interval: 1s"
		if !strings.Contains(yaml, old) {
			t.Fatalf("test YAML has no health check %s with a 1s interval", test)
		}
		yaml = strings.Replace(yaml, old, "test: "+test+"\n      interval: 30s", 1)
	}
	return yaml
}

// upUntil runs Up until stop(events so far) says enough or limit passes, then interrupts it; it returns
// the events it reported and Up's error.
func upUntil(t *testing.T, s *testStack, limit time.Duration, stop func([]deployer.Event) bool) ([]deployer.Event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(testCtx(t), limit)
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
	s.yaml = slowFirstCheck(t, s.yaml)
	events, err := upUntil(t, s, 25*time.Second, func(seen []deployer.Event) bool {
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
			t.Errorf("%s started=%t, %s started=%t within 25s; want both, long before the 30s first health check",
				c.dep, ok1, c.dependent, ok2)
			continue
		}
		if d := at.Sub(depAt); d > 10*time.Second {
			t.Errorf("%s started %s after %s (service_healthy); want it as soon as the health test passes, not after the 30s interval",
				c.dependent, d.Round(time.Millisecond), c.dep)
		}
	}
	// The engine has not run its own first check yet: dependents went ahead on the deployer's run of the test.
	if h := s.statuses(testCtx(t))["tigerbeetle"].Health; h != "starting" {
		t.Errorf("tigerbeetle engine health %q, want starting (its first check is 30s after start)", h)
	}
}

func TestFailingHealthTestHoldsDependentsBack(t *testing.T) {
	s := newTestStack(t)
	s.yaml = slowFirstCheck(t, s.yaml)
	s.yaml = strings.Replace(s.yaml, `["CMD-SHELL", "echo | nc -w 1 127.0.0.1 3000"]`, `["CMD-SHELL", "echo | nc -w 1 127.0.0.1 3999"]`, 1)
	events, err := upUntil(t, s, 8*time.Second, func([]deployer.Event) bool { return false })
	if !errors.Is(err, deployer.ErrInterrupted) {
		t.Fatalf("up returned %v, want it still waiting (interrupted) while tigerbeetle's health test fails", err)
	}
	if _, ok := eventAt(events, "tigerbeetle", deployer.StatusStarted); !ok {
		t.Fatalf("tigerbeetle never started; events %+v", events)
	}
	if _, ok := eventAt(events, "connector", deployer.StatusStarted); ok {
		t.Error("connector started although tigerbeetle's health test never passed")
	}
}
