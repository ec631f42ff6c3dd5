package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

// upgradeImages builds, from the run's connector image, a good next release (the same program, another image)
// and a bad one: it serves, but on 127.0.0.2 only, so its health check (GET 127.0.0.1:8080/health/ready)
// fails as a release with a broken readiness would. It also tags the TigerBeetle image with a release, so
// the upgrade's TigerBeetle rules have one to read. All are removed when the test ends.
func upgradeImages(t testing.TB) (good, bad, ledger string) {
	t.Helper()
	ctx, cancel := contextWithTimeout(3 * time.Minute)
	defer cancel()
	prefix := "m2me2e-up-" + randomHex(3)
	good, bad, ledger = prefix+"/connector:good", prefix+"/connector:bad", prefix+"/tigerbeetle:"+settings.TigerBeetleRelease
	for tag, df := range map[string]string{
		good:   fmt.Sprintf("FROM %s\nLABEL io.m2m.e2e.release=good\n", env.images.Connector),
		bad:    fmt.Sprintf("FROM %s\nLABEL io.m2m.e2e.release=bad\nCMD [\"serve\", \"--bind\", \"127.0.0.2\"]\n", env.images.Connector),
		ledger: fmt.Sprintf("FROM %s\n", env.images.TigerBeetle),
	} {
		t.Cleanup(func() {
			env.cli.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true})
		})
		if err := buildContext(ctx, env.cli, tag, map[string][]byte{"Dockerfile": []byte(df)}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	return good, bad, ledger
}

// readyWatch polls the connector's /health/ready on its published port (which moves when the container is
// recreated) and adds up the time it does not answer 200.
type readyWatch struct {
	stop, done chan struct{}
	mu         sync.Mutex
	down       time.Duration
	samples    int
	failed     int
	lastOK     time.Time
}

func watchReady(p *project) *readyWatch {
	w := &readyWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		addr, last := "", time.Now()
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			if addr == "" {
				addr, _ = p.lookupAddr(settings.ServiceConnector, "8080/tcp")
			}
			ok := false
			if addr != "" {
				code, _, err := get("http://" + addr + "/health/ready")
				ok = err == nil && code == 200
				if err != nil {
					addr = ""
				}
			}
			now := time.Now()
			w.mu.Lock()
			w.samples++
			if !ok {
				w.failed++
				w.down += now.Sub(last)
			} else {
				w.lastOK = now
			}
			w.mu.Unlock()
			last = now
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return w
}

// endWhenReady waits (up to timeout) until /health/ready answers 200 again, then ends the watch: a command
// that starts the connector and returns before it is ready has not ended the downtime.
func (w *readyWatch) endWhenReady(t testing.TB, timeout time.Duration) (time.Duration, int, int) {
	t.Helper()
	from, deadline := time.Now(), time.Now().Add(timeout)
	for {
		w.mu.Lock()
		ready := w.lastOK.After(from)
		w.mu.Unlock()
		if ready {
			return w.end()
		}
		if time.Now().After(deadline) {
			w.end()
			t.Fatalf("/health/ready did not answer 200 within %s", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// end stops the watch and returns how long /health/ready was not 200, and of how many samples.
func (w *readyWatch) end() (down time.Duration, failed, samples int) {
	close(w.stop)
	<-w.done
	return w.down, w.failed, w.samples
}

func TestUpgradeRollsBackAnUnhealthyConnectorThenTakesAGoodOne(t *testing.T) {
	wallTime(t)
	good, bad, ledgerImage := upgradeImages(t)
	p := newProject(t, projectOptions{settings: map[string]string{settings.TigerBeetleImage: ledgerImage}})
	p.up()
	p.requireHealthy(running...)
	ledger, conn := p.container(settings.ServiceTigerBeetle), p.container(settings.ServiceConnector)
	sum, _, ok := p.dataFile(stack.DataFile)
	if !ok {
		t.Fatal("no data file after up")
	}

	t.Run("unsupported TigerBeetle steps and absent images are refused before anything changes", func(t *testing.T) {
		repo := strings.TrimSuffix(ledgerImage, settings.TigerBeetleRelease)
		for release, want := range map[string]string{
			"0.17.8": "only moves forward", "0.99.0": "--tigerbeetle-upgradable-from",
		} {
			r := p.ctl(time.Minute, "upgrade", "--set", settings.TigerBeetleImage+"="+repo+release, "--pull", "never")
			if r.code != 2 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "Nothing was changed") {
				t.Errorf("upgrade to TigerBeetle %s: exit %d, stderr:\n%s\nwant exit 2 saying %q", release, r.code, r.stderr, want)
			}
		}
		// Without --set: this release's defaults, none of them on this host, none pulled.
		r := p.ctl(time.Minute, "upgrade", "--pull", "never")
		defConn, _ := settings.Lookup(settings.ConnectorImage)
		if r.code != 1 || !strings.Contains(r.stdout, "UPGRADE TO") || !strings.Contains(r.stdout, defConn.Default) ||
			!strings.Contains(r.stderr, "is not on this host and is not pulled") || !strings.Contains(r.stderr, "nothing was changed") {
			t.Errorf("upgrade to this release's defaults, absent: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 1, the change to %s, and the missing image named",
				r.code, r.stdout, r.stderr, defConn.Default)
		}
		if c := p.container(settings.ServiceTigerBeetle); c.ID != ledger.ID || !c.StartedAt.Equal(ledger.StartedAt) {
			t.Errorf("a refused upgrade touched the ledger container")
		}
		if c := p.container(settings.ServiceConnector); c.ID != conn.ID {
			t.Errorf("a refused upgrade touched the connector container")
		}
	})

	// The bad release: health check fails, the upgrade puts the previous connector back.
	backup := filepath.Join(p.dir, "before-upgrade.tar")
	w := watchReady(p)
	r := p.ctl(8*time.Minute, "upgrade", "--set", settings.ConnectorImage+"="+bad, "--pull", "never",
		"--wait-timeout", "3m", "--backup-output", backup)
	down, failed, samples := w.end()
	t.Logf("failed upgrade with backup and rollback: /health/ready not 200 for %s (%d of %d samples)", down.Round(10*time.Millisecond), failed, samples)
	t.Logf("m2mctl upgrade to the unhealthy connector said:\n%s", r.stderr)
	if r.code != 1 {
		t.Fatalf("upgrade to an unhealthy connector: exit %d, want 1\nstderr:\n%s%s", r.code, r.stderr, p.diagnose())
	}
	for _, want := range []string{"service connector", "last health check", "127.0.0.1:8080/health/ready", "connection refused",
		"Rolled back: connector runs " + env.images.Connector + " again", "The ledger was not changed", backup} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("upgrade's report does not say %q:\n%s", want, r.stderr)
		}
	}
	if _, err := os.Stat(backup); err != nil {
		t.Errorf("no backup before the upgrade: %v", err)
	}
	p.requireHealthy(running...)
	after := p.container(settings.ServiceConnector)
	if after.Image != env.images.Connector || after.ImageID != conn.ImageID || after.ID == conn.ID {
		t.Errorf("connector after the rollback: a new container %v of %s (%.19s), want the previous image %s (%.19s)",
			after.ID != conn.ID, after.Image, after.ImageID, env.images.Connector, conn.ImageID)
	}
	if c := p.container(settings.ServiceTigerBeetle); c.ID != ledger.ID || c.ImageID != ledger.ImageID {
		t.Errorf("the ledger container was recreated by an upgrade of the connector")
	}
	if got, _, _ := p.dataFile(stack.DataFile); got != sum && !env.images.RealTigerBeetle {
		t.Errorf("the data file changed across the failed upgrade: sha256 %s, was %s", got, sum)
	}
	if b, _ := os.ReadFile(p.envFile); strings.Contains(string(b), bad) {
		t.Errorf(".env names the rolled-back image %s", bad)
	}
	if out := p.mustCtl(time.Minute, "plan").stdout; !strings.Contains(out, "Nothing to do") {
		t.Errorf("plan after the rollback wants changes:\n%s", out)
	}

	// The good release: done, the .env names it, and a second run is a no-op.
	w = watchReady(p)
	p.mustCtl(6*time.Minute, "upgrade", "--set", settings.ConnectorImage+"="+good, "--pull", "never", "--no-backup", "--wait-timeout", "3m")
	down, failed, samples = w.end()
	t.Logf("connector upgrade without backup: /health/ready not 200 for %s (%d of %d samples)", down.Round(10*time.Millisecond), failed, samples)
	if failed == 0 {
		t.Error("the watch never saw the connector down while it was recreated: it does not measure")
	}
	p.requireHealthy(running...)
	upgraded := p.container(settings.ServiceConnector)
	if upgraded.Image != good {
		t.Errorf("connector runs %s after the upgrade, want %s", upgraded.Image, good)
	}
	if c := p.container(settings.ServiceTigerBeetle); c.ID != ledger.ID {
		t.Errorf("the ledger container was recreated by an upgrade of the connector")
	}
	if b, _ := os.ReadFile(p.envFile); !strings.Contains(string(b), "\n"+settings.ConnectorImage+"="+good+"\n") {
		t.Errorf(".env does not name %s=%s after the upgrade:\n%s", settings.ConnectorImage, good, b)
	}
	r = p.mustCtl(2*time.Minute, "upgrade", "--set", settings.ConnectorImage+"="+good, "--pull", "never")
	if !strings.Contains(r.stderr, "Nothing to upgrade") || p.container(settings.ServiceConnector).ID != upgraded.ID {
		t.Errorf("a second upgrade to the same image did something:\n%s", r.stderr)
	}
	if out := p.mustCtl(time.Minute, "plan").stdout; !strings.Contains(out, "Nothing to do") {
		t.Errorf("plan after the upgrade wants changes:\n%s", out)
	}
}
