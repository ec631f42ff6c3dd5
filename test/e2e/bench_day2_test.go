package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/stack/settings"
)

// BenchmarkDay2 measures the day-2 commands on one stack of the stand-in images, each image its own (see
// bundleImages), b.N rounds, and reports the medians:
//   - images save of the whole stack (every profile) and images load after removing them all, and the archive's size;
//   - backup, and how long the connector's /health/ready is not 200 during it (until it answers 200 again:
//     backup returns once the services are started), and restore of that backup into a fresh project (--no-up);
//   - upgrade --no-backup of the connector, alternating between two images, and its /health/ready downtime.
//
// `make bench-day2` runs it.
func BenchmarkDay2(b *testing.B) {
	refs, _ := bundleImages(b)
	good, _, _ := upgradeImages(b)
	p := newProject(b, projectOptions{settings: refs})
	p.up()
	other := good + "-again"
	buildTag(b, other, "FROM "+good+"\nLABEL io.m2m.e2e.release=again\n")
	images := []string{good, other}
	var saved, loaded, bkDown, bkTook, restored, upDown, upTook []time.Duration
	var size int64
	timed := func(run func()) time.Duration { start := time.Now(); run(); return time.Since(start) }
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bundle := filepath.Join(b.TempDir(), "m2m-images.tar")
		var out string
		saved = append(saved, timed(func() {
			out = p.mustCtl(5*time.Minute, "images", "save", bundle, "-p", p.name, "--env-file", p.envFile).stdout
		}))
		if st, err := os.Stat(bundle); err == nil {
			size = st.Size()
		}
		p.mustCtl(2*time.Minute, "down")
		inBundle := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") { // REF<TAB>ID
			ref, _, _ := strings.Cut(line, "\t")
			inBundle[ref] = ref
		}
		removeImages(b, inBundle)
		loaded = append(loaded, timed(func() { p.mustCtl(5*time.Minute, "images", "load", bundle) }))
		os.Remove(bundle)
		p.up()

		w := watchReady(p)
		file := filepath.Join(b.TempDir(), "backup.tar")
		bkTook = append(bkTook, timed(func() { p.mustCtl(5*time.Minute, "backup", "--output", file) }))
		down, _, _ := w.endWhenReady(b, 3*time.Minute)
		bkDown = append(bkDown, down)
		fresh := p.fresh()
		os.WriteFile(fresh.envFile, mustRead(b, p.envFile), 0o600)
		restored = append(restored, timed(func() { fresh.mustCtl(5*time.Minute, "restore", file, "--no-up") }))
		fresh.teardown()

		w = watchReady(p)
		upTook = append(upTook, timed(func() {
			p.mustCtl(5*time.Minute, "upgrade", "--set", settings.ConnectorImage+"="+images[i%2], "--no-backup", "--pull", "never")
		}))
		down, _, _ = w.endWhenReady(b, 3*time.Minute)
		upDown = append(upDown, down)
	}
	b.StopTimer()
	b.ReportMetric(float64(size)/(1<<20), "bundle-MiB")
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"save", saved}, {"load", loaded}, {"backup", bkTook}, {"backup-down", bkDown}, {"restore", restored},
		{"upgrade", upTook}, {"upgrade-down", upDown}} {
		b.ReportMetric(median(m.d).Seconds(), m.name+"-s")
		b.Logf("%s: median %v of %v", m.name, median(m.d).Round(10*time.Millisecond), roundAll(m.d))
	}
}

// buildTag builds tag from a Dockerfile and removes it when the benchmark ends.
func buildTag(t testing.TB, tag, dockerfile string) {
	t.Helper()
	t.Cleanup(func() { env.cli.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true}) })
	ctx, cancel := contextWithTimeout(3 * time.Minute)
	defer cancel()
	if err := buildContext(ctx, env.cli, tag, map[string][]byte{"Dockerfile": []byte(dockerfile)}, nil, nil); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
