package node

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/ilp"
	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/routing"
)

// benchPair is A and B over loopback BTP, with an in-process sender at A and receiver at B: the one BTP hop
// A→B (both WebSocket messages, both pipelines, both ledgers) is what is measured.
func benchPair(b *testing.B, lim btp.Limits, newLedger func() ledger.Ledger) (*Local, func()) {
	b.Helper()
	ctx := context.Background()
	lb := newLedger()
	nb, urlB := startBenchNode(b, Config{Address: "test.b", BTP: lim, Peers: []routing.Peer{
		{ID: "a", AuthToken: "tok-ab", ILPPrefix: "test.a", Relation: routing.RelationPeer, CreditLimit: 1 << 62}}}, lb)
	if _, err := nb.AttachLocal(ctx, routing.Peer{ID: "receiver", Relation: routing.RelationChild}, receiver); err != nil {
		b.Fatal(err)
	}
	na, _ := startBenchNode(b, Config{Address: "test.a", BTP: lim, Peers: []routing.Peer{
		{ID: "b", AuthToken: "tok-ab", ILPPrefix: "test.b", BTPURL: urlB, Relation: routing.RelationPeer, CreditLimit: 1 << 62}}}, newLedger())
	sender, err := na.AttachLocal(ctx, routing.Peer{ID: "sender", Relation: routing.RelationChild, CreditLimit: 1 << 62}, nil)
	if err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for na.stateOf("b") != Connected {
		if time.Now().After(deadline) {
			b.Fatal("A never connected to B")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return sender, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = na.Close(ctx)
		_ = nb.Close(ctx)
	}
}

func (n *Node) stateOf(id string) State {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.stateLocked(id)
}

func startBenchNode(b *testing.B, cfg Config, l ledger.Ledger) (*Node, string) {
	b.Helper()
	n, url := startNodeTB(b, cfg, l)
	if err := n.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	return n, url
}

// BenchmarkILPForwardAToB sends fulfilled packets A→B from `concurrency` senders and reports throughput and
// latency percentiles. Every packet is decoded, routed, booked (pending then posted) at both connectors.
func BenchmarkILPForwardAToB(b *testing.B) {
	ledgers := []struct {
		name string
		new  func() ledger.Ledger
	}{
		{"memory", func() ledger.Ledger { return ledger.NewMemory() }},
		{"standin", func() ledger.Ledger { return newStandinLedger() }},
	}
	for _, lg := range ledgers {
		for _, concurrency := range []int{1, 64, 256} {
			b.Run(fmt.Sprintf("ledger=%s/concurrency=%d", lg.name, concurrency), func(b *testing.B) {
				benchForward(b, lg.new, concurrency)
			})
		}
	}
}

func benchForward(b *testing.B, newLedger func() ledger.Ledger, concurrency int) {
	{
		{
			sender, stop := benchPair(b, btp.Limits{MaxInFlight: 4096}, newLedger)
			defer stop()
			raw, _ := (&ilp.Prepare{Amount: 1, ExpiresAt: time.Now().Add(time.Hour), ExecutionCondition: condition,
				Destination: "test.b.receiver.bench", Data: make([]byte, 64)}).MarshalBinary()
			lat := make([]time.Duration, b.N)
			var next atomic.Int64
			var failed atomic.Int64
			var wg sync.WaitGroup
			ctx := context.Background()
			b.ResetTimer()
			cpu0 := cpuTime()
			start := time.Now()
			for range concurrency {
				wg.Go(func() {
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						t0 := time.Now()
						resp := sender.SendPrepare(ctx, raw)
						lat[i] = time.Since(t0)
						if resp[0] != byte(ilp.TypeFulfill) {
							failed.Add(1)
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			cpu := cpuTime() - cpu0
			b.StopTimer()
			if f := failed.Load(); f > 0 {
				j, _ := ilp.DecodeReject(sender.SendPrepare(ctx, raw))
				b.Fatalf("%d of %d packets not fulfilled; e.g. %s %s", f, b.N, j.Code, j.Message)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "packets/s")
			b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
			b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
			// CPU per packet (both connectors, user+system) says what the code costs even when the shared
			// machine's other load distorts packets/s: 2 cores / this = the ceiling on an idle host.
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/packet")
		}
	}
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
