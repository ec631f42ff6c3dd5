package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/m2mnet/m2m/stack"
)

// BenchmarkUp compares `m2mctl up` with `docker compose up -d --wait` on the same emitted YAML, the same .env
// and the same local images: cold (nothing but the .env: network, volumes, format, every service healthy) and
// no-op (everything already up); and `m2mctl status` with `docker compose ps` on the running stack. Rounds
// alternate which tool goes first; each tool's cold start begins from `down --volumes`. It reports the medians
// in seconds and the ratios m2mctl/compose (targets: cold ≤ 0.5, no-op ≤ 0.05, status ≤ 0.5). `make
// bench-up` runs it; it needs M2M_COMPOSE_BIN (a Compose v2 binary).
func BenchmarkUp(b *testing.B) {
	bin := os.Getenv(envComposeBin)
	if bin == "" {
		b.Skipf("set %s to a Compose v2 binary to compare with docker compose", envComposeBin)
	}
	p := newProject(b, projectOptions{})
	file := filepath.Join(p.dir, stack.ComposeFile)
	if err := os.WriteFile(file, []byte(p.mustCtl(time.Minute, "config").stdout), 0o644); err != nil {
		b.Fatal(err)
	}
	timed := func(run func()) time.Duration {
		start := time.Now()
		run()
		return time.Since(start)
	}
	compose := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "-f", file, "-p", p.name, "--env-file", p.envFile,
			"up", "-d", "--wait", "--pull", "never", "--wait-timeout", "240")
		cmd.Dir = p.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("docker compose up -d --wait: %v\n%s%s", err, out, p.diagnose())
		}
	}
	m2mctl := func() { p.up() }
	down := func() { p.mustCtl(2*time.Minute, "down", "--volumes", "--yes") }
	// What an operator types to see the stack: the human table of each tool.
	status := [2]func(){
		func() { p.mustCtl(time.Minute, "status") },
		func() {
			if out, err := p.compose(bin, file, "ps"); err != nil {
				b.Fatalf("docker compose ps: %v\n%s", err, out)
			}
		},
	}

	var cold, noop, stat [2][]time.Duration // [0] m2mctl, [1] compose
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		order := []int{0, 1}
		if i%2 == 1 {
			order = []int{1, 0}
		}
		for _, tool := range order {
			up := m2mctl
			if tool == 1 {
				up = compose
			}
			b.StopTimer()
			down()
			b.StartTimer()
			cold[tool] = append(cold[tool], timed(up))
			noop[tool] = append(noop[tool], timed(up))
		}
		for range 3 { // a status is short: three of each a round, so that one slow exec on a busy host weighs less
			for _, tool := range order {
				stat[tool] = append(stat[tool], timed(status[tool]))
			}
		}
	}
	b.StopTimer()
	down()
	for _, m := range []struct {
		name string
		d    [2][]time.Duration
	}{{"cold", cold}, {"noop", noop}, {"status", stat}} {
		ctl, cmp := median(m.d[0]), median(m.d[1])
		b.ReportMetric(ctl.Seconds(), m.name+"-m2mctl-s")
		b.ReportMetric(cmp.Seconds(), m.name+"-compose-s")
		b.ReportMetric(ctl.Seconds()/cmp.Seconds(), m.name+"-ratio")
		b.Logf("%s: m2mctl %v, compose %v (medians of %d; all m2mctl %v, all compose %v)", m.name, ctl.Round(time.Millisecond),
			cmp.Round(time.Millisecond), len(m.d[0]), roundAll(m.d[0]), roundAll(m.d[1]))
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(10 * time.Millisecond)
	}
	return out
}
