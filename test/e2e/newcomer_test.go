package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/m2mnet/m2m/stack"
)

// running are the services of the default stack that must be running and healthy.
var running = []string{settings.ServiceTigerBeetle, settings.ServiceConnector, settings.ServicePrometheus, settings.ServiceGrafana}

// A newcomer's path: init, up, everything healthy and scraped, down keeps the data, up again does not format.
func TestNewcomerUpDownUpKeepsTheLedger(t *testing.T) {
	wallTime(t)
	p := newProject(t, projectOptions{})
	// init prepared the directory; an operator who copies only the .env to a host has none of it, and up
	// must write what the stack bind-mounts itself.
	for _, d := range []string{"templates", stack.ConfigDir} {
		if err := os.RemoveAll(filepath.Join(p.dir, d)); err != nil {
			t.Fatal(err)
		}
	}
	p.up()
	for _, f := range []string{"templates/prometheus/prometheus.yml", "templates/grafana/provisioning"} {
		if _, err := os.Stat(filepath.Join(p.dir, f)); err != nil {
			t.Errorf("m2mctl up did not write the monitoring templates next to the .env: %v", err)
		}
	}

	rep := p.requireHealthy(running...)
	if out := p.mustCtl(time.Minute, "logs", settings.ServiceFormat).stdout; !strings.Contains(out, "formatted "+stack.DataFile) {
		t.Errorf("m2mctl logs %s does not show the format:\n%s", settings.ServiceFormat, out)
	}
	if out := p.mustCtl(time.Minute, "logs", settings.ServiceConnector, "--tail", "3").stdout; strings.Count(strings.TrimSpace(out), "\n") > 2 || !strings.Contains(out, "{") {
		t.Errorf("m2mctl logs connector --tail 3: want at most 3 JSON log lines, got:\n%s", out)
	}
	if f := rep.service(t, settings.ServiceFormat); !f.OK || f.State == "running" {
		t.Errorf("%s after the first up: state %s ok=%v, want finished and ok", settings.ServiceFormat, f.State, f.OK)
	}
	if rep.Connector == nil || rep.Connector.Status == "" {
		t.Errorf("m2mctl status shows nothing of the connector's /health: %+v", rep.Connector)
	} else if d := rep.Connector.Dependencies["tigerbeetle"]; d.Status != "up" {
		t.Errorf("connector reports its ledger dependency %q, want up", d.Status)
	}
	// Only BTP is public; health, Prometheus and Grafana publish on the loopback interface.
	for _, s := range []struct{ service, port string }{{settings.ServiceConnector, "8080/tcp"}, {settings.ServicePrometheus, "9090/tcp"},
		{settings.ServiceGrafana, "3000/tcp"}} {
		found := 0
		for _, pp := range p.container(s.service).Ports {
			if pp.Target != s.port {
				continue
			}
			found++
			if host, _, _ := net.SplitHostPort(pp.Host); host != "127.0.0.1" {
				t.Errorf("%s publishes %s on %s, want 127.0.0.1 only", s.service, s.port, pp.Host)
			}
		}
		if found == 0 {
			t.Errorf("%s publishes no host port for %s", s.service, s.port)
		}
	}
	health := "http://" + p.hostAddr(settings.ServiceConnector, "8080/tcp")
	for _, path := range []string{"/health", "/health/live", "/health/ready"} {
		if err := wantStatus(health+path, 200)(); err != nil {
			t.Error(err)
		}
	}

	prom := "http://" + p.hostAddr(settings.ServicePrometheus, "9090/tcp")
	info := waitConnectorScraped(t, prom)
	if env.images.Connector != "" && !fromEnv(envConnectorImage) && info[0].Metric["version"] != "e2e" {
		t.Errorf("m2m_build_info version = %q, want e2e (the binary this run built): %v", info[0].Metric["version"], info[0].Metric)
	}
	checkExpressions(t, prom, false)

	p.mustCtl(2*time.Minute, "down")
	if left := p.volumes(); !left[stack.VolumeTigerBeetle] || !left[stack.VolumeConnector] || !left[stack.VolumePrometheus] || !left[stack.VolumeGrafana] {
		t.Fatalf("volumes after m2mctl down: %v; want tigerbeetle-data, connector-data, prometheus-data and grafana-data kept", left)
	}
	if rep, code := p.status(); code == 0 || rep.Healthy {
		t.Errorf("m2mctl status after down: exit %d healthy=%v, want non-zero and false", code, rep.Healthy)
	}
	before, size, ok := p.dataFile(stack.DataFile)
	if !ok || size == 0 {
		t.Fatalf("%s is not in volume %s after down (size %d)", stack.DataFile, p.volumeName(stack.VolumeTigerBeetle), size)
	}

	p.up()
	p.requireHealthy(running...)
	format := p.container(settings.ServiceFormat)
	if !format.StartedAt.IsZero() {
		t.Errorf("%s ran on the second up (started %s); the data file was there, so it must be skipped", settings.ServiceFormat, format.StartedAt)
	}
	after, _, ok := fileSumOf(t, format.ID, stack.DataFile)
	switch {
	case !ok:
		t.Fatalf("%s is gone after the second up", stack.DataFile)
	case env.images.RealTigerBeetle:
		// A running TigerBeetle writes its own data file; that the format was skipped is checked above.
		t.Logf("data file checksum before %s, after %s (real TigerBeetle writes to it)", before[:12], after[:12])
	case after != before:
		t.Errorf("%s changed across down and up: sha256 %s before, %s after", stack.DataFile, before, after)
	}
}
