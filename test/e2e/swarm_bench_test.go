package e2e

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

// TestBenchSwarmUp compares, on a three-node test swarm, `m2mctl up` with `docker stack deploy --detach=false`
// of the emitted stack file until every service converged: cold (no services, no volumes: format jobs run) and
// no-op (everything up), rounds alternating which tool goes first. It logs medians and the ratios m2mctl/docker
// (targets: cold ≤ 0.7, no-op ≤ 0.2). `make bench-swarm` runs it (M2M_BENCH=1; BENCH_ROUNDS, default 3).
func TestBenchSwarmUp(t *testing.T) {
	if os.Getenv("M2M_BENCH") != "1" {
		t.Skip("a benchmark: make bench-swarm (M2M_BENCH=1)")
	}
	rounds := 3
	if n := os.Getenv("BENCH_ROUNDS"); n != "" {
		if _, err := fmt.Sscan(n, &rounds); err != nil {
			t.Fatalf("BENCH_ROUNDS=%q: %v", n, err)
		}
	}
	p := newSwarmProject(t, 3)
	timed := func(run func()) time.Duration { start := time.Now(); run(); return time.Since(start) }
	tools := [2]struct {
		name       string
		up, down   func()
		cold, noop []time.Duration
	}{
		{name: "m2mctl", up: func() { p.mustSwarmCtl(8*time.Minute, "up", "--pull", "never") },
			down: func() { p.mustSwarmCtl(5*time.Minute, "down") }},
		{name: "docker stack deploy", up: func() { p.stackDeploy(t) }, down: func() { p.stackRemove(t) }},
	}
	for r := range rounds {
		for k := range 2 {
			tool := &tools[(r+k)%2]
			start := time.Now()
			tool.cold = append(tool.cold, timed(tool.up))
			t.Logf("swarm_bench timeline of %s's cold run %d (s after its start; it returned at %.1f):", tool.name, r+1,
				tool.cold[len(tool.cold)-1].Seconds())
			for _, line := range p.timeline(start) {
				t.Logf("swarm_bench   %s", line)
			}
			tool.noop = append(tool.noop, timed(tool.up))
			tool.down()
			p.removeVolumes(t)
		}
	}
	median := func(d []time.Duration) time.Duration { s := slices.Clone(d); slices.Sort(s); return s[len(s)/2] }
	for _, tool := range tools {
		t.Logf("swarm_bench %-20s cold median %6.1fs %v  no-op median %6.2fs %v", tool.name,
			median(tool.cold).Seconds(), tool.cold, median(tool.noop).Seconds(), tool.noop)
	}
	t.Logf("swarm_bench ratio m2mctl/docker: cold %.2f (target ≤ 0.7), no-op %.3f (target ≤ 0.2)",
		median(tools[0].cold).Seconds()/median(tools[1].cold).Seconds(), median(tools[0].noop).Seconds()/median(tools[1].noop).Seconds())
}
