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

// sendFunc sends one encoded Prepare and returns the answer.
type sendFunc func(ctx context.Context, prepare []byte) []byte

// benchPair is connectors A and B peered over loopback BTP, each with the in-memory ledger. The sender (at A)
// and the receiver (at B) are in-process peers, so that the A→B hop is what is measured; with overBTP they
// are BTP children on their own WebSockets instead, three links in all.
func benchPair(b *testing.B, overBTP bool) sendFunc {
	b.Helper()
	ctx := context.Background()
	lim := btp.Limits{MaxInFlight: 4096}
	nb, urlB := startBenchNode(b, Config{Address: "test.b", BTP: lim, Peers: []routing.Peer{
		{ID: "a", AuthToken: "tok-ab", ILPPrefix: "test.a", Relation: routing.RelationPeer, CreditLimit: 1 << 62},
		{ID: "receiver", AuthToken: "tok-recv", Relation: routing.RelationChild}}})
	na, urlA := startBenchNode(b, Config{Address: "test.a", BTP: lim, Peers: []routing.Peer{
		{ID: "b", AuthToken: "tok-ab", ILPPrefix: "test.b", BTPURL: urlB, Relation: routing.RelationPeer, CreditLimit: 1 << 62},
		{ID: "sender", AuthToken: "tok-send", Relation: routing.RelationChild, CreditLimit: 1 << 62}}})
	var send sendFunc
	if overBTP {
		recv, err := btp.Dial(ctx, btp.DialConfig{URL: urlB, Token: "tok-recv", PeerID: "b", Session: btp.SessionConfig{Handler: benchReceiver(), Limits: lim}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { recv.Close() })
		s, err := btp.Dial(ctx, btp.DialConfig{URL: urlA, Token: "tok-send", PeerID: "a", Session: btp.SessionConfig{Limits: lim}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		send = func(ctx context.Context, p []byte) []byte { r, _ := s.SendPrepare(ctx, p); return r }
	} else {
		nb.RemovePeer("receiver")
		if _, err := nb.AttachLocal(ctx, routing.Peer{ID: "receiver", Relation: routing.RelationChild}, benchReceiver()); err != nil {
			b.Fatal(err)
		}
		na.RemovePeer("sender")
		l, err := na.AttachLocal(ctx, routing.Peer{ID: "sender", Relation: routing.RelationChild, CreditLimit: 1 << 62}, nil)
		if err != nil {
			b.Fatal(err)
		}
		send = l.SendPrepare
	}
	waitConnected(b, na, "b", "sender")
	waitConnected(b, nb, "a", "receiver")
	return send
}

// benchReceiver is a payee that checks each Prepare (decoded, for the right condition) and answers with one
// Fulfill encoded once: the receiver's own encoding is not the connectors' cost, which the benchmark measures.
func benchReceiver() btp.Handler {
	fulfill, _ := (&ilp.Fulfill{Fulfillment: preimage, Data: []byte("thanks")}).MarshalBinary()
	return btp.HandlerFunc(func(ctx context.Context, _ string, raw []byte) []byte {
		if p, err := ilp.DecodePrepare(raw); err != nil || p.ExecutionCondition != condition {
			b, _ := (&ilp.Reject{Code: ilp.F06UnexpectedPayment}).MarshalBinary()
			return b
		}
		return fulfill
	})
}

func startBenchNode(b *testing.B, cfg Config) (*Node, string) {
	b.Helper()
	n, url := startNodeTB(b, cfg, ledger.NewMemory())
	if err := n.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	return n, url
}

// BenchmarkILPForwardAToB sends fulfilled packets A→B from `concurrency` senders at once and reports
// throughput and latency percentiles. Every packet is decoded, routed, booked (pending, then posted) and
// re-encoded at both connectors.
func BenchmarkILPForwardAToB(b *testing.B) {
	for _, concurrency := range []int{1, 64, 256} {
		b.Run(fmt.Sprintf("concurrency=%d", concurrency), func(b *testing.B) {
			benchForward(b, benchPair(b, false), concurrency)
		})
	}
}

// BenchmarkILPSenderToReceiverOverBTP is the same with the sender and the receiver on BTP as well.
func BenchmarkILPSenderToReceiverOverBTP(b *testing.B) {
	benchForward(b, benchPair(b, true), 64)
}

func benchForward(b *testing.B, send sendFunc, concurrency int) {
	raw, _ := (&ilp.Prepare{Amount: 1, ExpiresAt: time.Now().Add(time.Hour), ExecutionCondition: condition,
		Destination: "test.b.receiver.bench", Data: make([]byte, 64)}).MarshalBinary()
	ctx := context.Background()
	lat := make([]time.Duration, b.N)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0, start := cpuTime(), time.Now()
	for range concurrency {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				t0 := time.Now()
				resp := send(ctx, raw)
				lat[i] = time.Since(t0)
				if len(resp) == 0 || resp[0] != byte(ilp.TypeFulfill) {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		j, _ := ilp.DecodeReject(send(ctx, raw))
		b.Fatalf("%d of %d packets not fulfilled; e.g. %s %s", f, b.N, j.Code, j.Message)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "packets/s")
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	// CPU per packet (both connectors, user+system) says what the code costs even when the shared machine's
	// other load distorts packets/s: 2 cores divided by this is the ceiling on an idle host.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/packet")
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
