package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/stack"
)

// The connector killed with SIGKILL comes back by its restart policy; TigerBeetle stopped makes the stack
// unhealthy (and, with a real TigerBeetle, the connector not ready) until it is started again, and the connector
// recovers without being restarted; so it does from an outage of its chain endpoint.
func TestFaultKilledConnectorAndStoppedLedgerRecover(t *testing.T) {
	wallTime(t)
	p := newProject(t, projectOptions{})
	p.up()
	p.requireHealthy(running...)
	// With HEALTH_CHECK_PORT=0 Docker picks a new host port each time the container starts: ask every time.
	ready := func() error {
		addr, err := p.lookupAddr(settings.ServiceConnector, "8080/tcp")
		if err != nil {
			return err
		}
		return wantStatus("http://"+addr+"/health/ready", 200)()
	}

	// kill -9: the engine sees a crash, not a stop, so unless-stopped restarts the same container.
	before := p.container(settings.ServiceConnector)
	p.kill9(before.ID)
	eventually(t, 90*time.Second, "the killed connector restarted and ready", func() error {
		c := p.container(settings.ServiceConnector)
		if c.Restarts <= before.Restarts {
			return fmt.Errorf("restart count %d, was %d", c.Restarts, before.Restarts)
		}
		if c.Health != "healthy" {
			return fmt.Errorf("connector health %q", c.Health)
		}
		return ready()
	})
	rep := p.requireHealthy(running...)
	row := rep.service(t, settings.ServiceConnector)
	if row.Restarts < before.Restarts+1 || row.Container != before.Name {
		t.Errorf("m2mctl status after kill -9: connector %s restarts %d, want container %s with at least %d restarts",
			row.Container, row.Restarts, before.Name, before.Restarts+1)
	}

	// TigerBeetle stopped: status must say so; the connector must not be restarted to recover.
	conn := p.container(settings.ServiceConnector)
	tb := p.container(settings.ServiceTigerBeetle)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stop := 10
	if _, err := env.cli.ContainerStop(ctx, tb.ID, client.ContainerStopOptions{Timeout: &stop}); err != nil {
		t.Fatalf("stop tigerbeetle: %v", err)
	}
	eventually(t, 30*time.Second, "m2mctl status reports tigerbeetle down", func() error {
		rep, code := p.status()
		if code == 0 || rep.Healthy || rep.service(t, settings.ServiceTigerBeetle).OK {
			return fmt.Errorf("status exit %d healthy=%v tigerbeetle=%+v", code, rep.Healthy, rep.service(t, settings.ServiceTigerBeetle))
		}
		return nil
	})
	readyURL := "http://" + p.hostAddr(settings.ServiceConnector, "8080/tcp") + "/health/ready"
	t.Run("connector not ready while TigerBeetle is down", func(t *testing.T) {
		if !env.images.RealTigerBeetle {
			t.Skipf("needs a real TigerBeetle (set %s): the stand-in speaks no TigerBeetle protocol, so the connector "+
				"runs LEDGER=memory and cannot notice the ledger stopping", envTigerBeetleImage)
		}
		eventually(t, 30*time.Second, "connector /health/ready answers 503", wantStatus(readyURL, 503))
	})
	if _, err := env.cli.ContainerStart(ctx, tb.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start tigerbeetle again: %v", err)
	}
	eventually(t, 90*time.Second, "the stack healthy again after TigerBeetle started", func() error {
		if rep, code := p.status(); code != 0 || !rep.Healthy {
			return fmt.Errorf("status exit %d healthy=%v: %+v", code, rep.Healthy, rep.Services)
		}
		return ready()
	})
	p.requireSameRun(conn, "the ledger outage")

	// The readiness path on every engine, stand-in or not: the chain endpoint a node settling on EVM needs
	// fails, /health/ready answers 503, then recovers by itself. (The EVM stand-in is shared: scenarios run
	// one after another.)
	env.evm.Fail(http.StatusServiceUnavailable)
	t.Cleanup(func() { env.evm.Fail(0) })
	eventually(t, 60*time.Second, "connector /health/ready answers 503 while its EVM endpoint fails", wantStatus(readyURL, 503))
	env.evm.Fail(0)
	eventually(t, 60*time.Second, "connector ready again once its EVM endpoint answers", wantStatus(readyURL, 200))
	p.requireSameRun(conn, "the chain outage")
}

// requireSameRun fails when the container of before has been replaced or restarted since: recovering from what
// must not take a restart.
func (p *project) requireSameRun(before deployer.Container, what string) {
	p.t.Helper()
	after := p.container(before.Service)
	if after.ID != before.ID || after.Restarts != before.Restarts || !after.StartedAt.Equal(before.StartedAt) {
		p.t.Errorf("%s was restarted to recover from %s: id %s→%s, restarts %d→%d, started %s→%s", before.Service, what,
			before.ID[:12], after.ID[:12], before.Restarts, after.Restarts, before.StartedAt, after.StartedAt)
	}
}

// A format killed half-way leaves only the temp file; the next up removes it, formats and renames.
func TestFaultInterruptedFormatIsCompletedByNextUp(t *testing.T) {
	wallTime(t)
	// The slow image holds the stand-in's format half-way for a few seconds, long enough to kill it there.
	p := newProject(t, projectOptions{settings: map[string]string{settings.TigerBeetleImage: env.images.SlowFormat}})
	temp := stack.DataFile + ".formatting"

	done := make(chan result, 1)
	go func() { done <- p.ctl(4*time.Minute, "up", "--pull", "never", "--wait-timeout", "3m") }()
	var first result
	received := false
	t.Cleanup(func() { // a failed test must not leave the up logging into it after it ended
		if !received {
			<-done
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var formatID string
	// A real TigerBeetle formats in a moment (it ignores the stand-in's pause): poll fast.
	eventuallyEvery(t, 60*time.Second, 50*time.Millisecond, "the format running with its temp file written", func() error {
		obs, err := p.observe(ctx)
		if err != nil {
			return err
		}
		cs := obs.Containers[settings.ServiceFormat]
		if len(cs) != 1 || cs[0].State != "running" {
			return fmt.Errorf("no running %s container yet", settings.ServiceFormat)
		}
		if _, err := env.cli.ContainerStatPath(ctx, cs[0].ID, client.ContainerStatPathOptions{Path: temp}); err != nil {
			return fmt.Errorf("stat %s: %v", temp, err)
		}
		formatID = cs[0].ID
		return nil
	})
	if _, err := env.cli.ContainerKill(ctx, formatID, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatalf("kill the format mid-way: %v", err)
	}
	first, received = <-done, true
	if first.code == 0 {
		t.Fatalf("m2mctl up succeeded although its format was killed mid-way:\n%s", first.stderr)
	}
	if !strings.Contains(first.stderr, settings.ServiceFormat) {
		t.Errorf("m2mctl up failed (exit %d) without naming %s:\n%s", first.code, settings.ServiceFormat, first.stderr)
	}
	if _, _, ok := p.dataFile(stack.DataFile); ok {
		t.Fatalf("%s exists after the format was killed mid-way; only the temp file may", stack.DataFile)
	}
	if _, size, ok := p.dataFile(temp); !ok {
		t.Fatalf("the interrupted format left no %s behind; the test did not interrupt it", temp)
	} else {
		t.Logf("interrupted format left %s of %d bytes", temp, size)
	}

	if r := p.ctl(4*time.Minute, "up", "--pull", "never", "--wait-timeout", "3m"); r.code != 0 {
		hint := ""
		if strings.Contains(r.stderr, "exited with code 137") {
			hint = "\n137 is the exit code of the run this test killed, not of this up's format: the deployer judged the " +
				"re-started one-shot by its previous exit (deployer/tracker.go register keeps the stale exited state " +
				"until the start event arrives)"
		}
		t.Fatalf("m2mctl up after an interrupted format: exit %d, want 0%s\nstderr:\n%s%s", r.code, hint, r.stderr, p.diagnose())
	}
	p.requireHealthy(running...)
	if _, size, ok := p.dataFile(stack.DataFile); !ok || size == 0 {
		t.Errorf("%s after the second up: present=%v size %d", stack.DataFile, ok, size)
	}
	if _, _, ok := p.dataFile(temp); ok {
		t.Errorf("%s is still there after a completed format", temp)
	}
}
