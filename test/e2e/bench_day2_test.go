package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/m2mnet/m2m/stack/settings"
)

// BenchmarkDay2Downtime measures, on one stack, how long the connector's /health/ready is not 200 during
// `m2mctl backup` (until it answers 200 again: backup returns once the services are started) and during
// `m2mctl upgrade --no-backup` of the connector, alternating between two images, and how long each command
// takes. It reports the medians of b.N rounds; `make bench-day2` runs it.
func BenchmarkDay2Downtime(b *testing.B) {
	good, _, _ := upgradeImages(b)
	p := newProject(b, projectOptions{})
	p.up()
	images := []string{good, env.images.Connector}
	var bkDown, bkTook, upDown, upTook []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := watchReady(p)
		start := time.Now()
		p.mustCtl(5*time.Minute, "backup", "--output", filepath.Join(b.TempDir(), "backup.tar"))
		bkTook = append(bkTook, time.Since(start))
		down, _, _ := w.endWhenReady(b, 3*time.Minute)
		bkDown = append(bkDown, down)

		w = watchReady(p)
		start = time.Now()
		p.mustCtl(5*time.Minute, "upgrade", "--set", settings.ConnectorImage+"="+images[i%2], "--no-backup", "--pull", "never")
		upTook = append(upTook, time.Since(start))
		down, _, _ = w.endWhenReady(b, 3*time.Minute)
		upDown = append(upDown, down)
	}
	b.StopTimer()
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"backup-down", bkDown}, {"backup", bkTook}, {"upgrade-down", upDown}, {"upgrade", upTook}} {
		b.ReportMetric(median(m.d).Seconds(), m.name+"-s")
		b.Logf("%s: median %v of %v", m.name, median(m.d).Round(10*time.Millisecond), roundAll(m.d))
	}
}
