package health

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/m2mnet/m2m/connector/metrics"
)

// SLA is the packet figures over the recent window. Rates and latencies are null when no packet was handled
// in the window: no traffic is not 100 % success.
type SLA struct {
	WindowSeconds     float64  `json:"windowSeconds"`
	Packets           uint64   `json:"packets"`
	PacketSuccessRate *float64 `json:"packetSuccessRate"`
	P99LatencyMs      *float64 `json:"p99LatencyMs"`
}

// SLASource gives the figures shown under "sla" in /health.
type SLASource interface {
	SLA() SLA
}

// PacketWindow computes SLA figures from the m2m_packets_total and m2m_packet_duration_seconds collectors,
// over a sliding window: it keeps periodic snapshots and subtracts the one at the window's start from now.
type PacketWindow struct {
	gatherer prometheus.Gatherer
	window   time.Duration
	now      func() time.Time

	mu      sync.Mutex
	samples []packetSample // oldest first
}

type packetSample struct {
	at                  time.Time
	fulfilled, rejected float64
	bounds              []float64 // histogram upper bounds, +Inf excluded
	cumulative          []uint64  // per bound, summed over results
	count               uint64
}

// NewPacketWindow starts a window over g (a registry holding the metrics package's collectors).
func NewPacketWindow(g prometheus.Gatherer, window time.Duration) *PacketWindow {
	w := &PacketWindow{gatherer: g, window: window, now: time.Now}
	w.Sample()
	return w
}

// Run takes a snapshot every interval until ctx is done.
func (w *PacketWindow) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Sample()
		}
	}
}

// Sample records a snapshot and forgets those no longer needed.
func (w *PacketWindow) Sample() {
	s := w.take()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.samples = append(w.samples, s)
	// Keep the newest sample at or before the window's start, and everything after it.
	start := s.at.Add(-w.window)
	keep := 0
	for i, old := range w.samples {
		if !old.at.After(start) {
			keep = i
		}
	}
	w.samples = w.samples[keep:]
}

// SLA compares now with the snapshot at the start of the window (or the oldest one, early in the process's life).
func (w *PacketWindow) SLA() SLA {
	cur := w.take()
	w.mu.Lock()
	base := w.samples[0]
	start := cur.at.Add(-w.window)
	for _, s := range w.samples {
		if !s.at.After(start) {
			base = s
		}
	}
	w.mu.Unlock()

	out := SLA{WindowSeconds: math.Round(cur.at.Sub(base.at).Seconds())}
	ok, bad := cur.fulfilled-base.fulfilled, cur.rejected-base.rejected
	if total := ok + bad; total > 0 {
		out.Packets = uint64(total)
		rate := ok / total
		out.PacketSuccessRate = &rate
	}
	// A base taken before the first observation has no buckets at all: it counts as zeros.
	if n := cur.count - base.count; n > 0 && (len(base.bounds) == 0 || len(base.bounds) == len(cur.bounds)) {
		delta := make([]uint64, len(cur.bounds))
		for i := range delta {
			delta[i] = cur.cumulative[i]
			if len(base.cumulative) > 0 {
				delta[i] -= base.cumulative[i]
			}
		}
		ms := quantile(0.99, cur.bounds, delta, n) * 1000
		out.P99LatencyMs = &ms
	}
	return out
}

// quantile estimates the q-quantile of a histogram like Prometheus's histogram_quantile: linear interpolation
// inside the bucket that holds the rank; a rank in the +Inf bucket gives the highest finite bound.
func quantile(q float64, bounds []float64, cumulative []uint64, total uint64) float64 {
	rank := q * float64(total)
	lower, below := 0.0, uint64(0)
	for i, upper := range bounds {
		if float64(cumulative[i]) >= rank {
			inBucket := cumulative[i] - below
			if inBucket == 0 {
				return upper
			}
			return lower + (upper-lower)*(rank-float64(below))/float64(inBucket)
		}
		lower, below = upper, cumulative[i]
	}
	if len(bounds) == 0 {
		return math.NaN()
	}
	return bounds[len(bounds)-1]
}

// The collectors' names as declared in the metrics package (and documented in docs/metrics.md).
const (
	packetsMetric        = "m2m_packets_total"
	packetDurationMetric = "m2m_packet_duration_seconds"
)

// take reads the two packet collectors from the registry, summing over their labels.
func (w *PacketWindow) take() packetSample {
	s := packetSample{at: w.now()}
	families, err := w.gatherer.Gather()
	if err != nil && len(families) == 0 {
		return s
	}
	for _, f := range families {
		switch f.GetName() {
		case packetsMetric:
			for _, m := range f.GetMetric() {
				switch label(m, "result") {
				case metrics.ResultFulfilled:
					s.fulfilled += m.GetCounter().GetValue()
				default:
					s.rejected += m.GetCounter().GetValue()
				}
			}
		case packetDurationMetric:
			for _, m := range f.GetMetric() {
				h := m.GetHistogram()
				s.count += h.GetSampleCount()
				finite := 0
				for _, b := range h.GetBucket() {
					if math.IsInf(b.GetUpperBound(), +1) {
						continue
					}
					if finite == len(s.bounds) {
						s.bounds = append(s.bounds, b.GetUpperBound())
						s.cumulative = append(s.cumulative, 0)
					}
					s.cumulative[finite] += b.GetCumulativeCount()
					finite++
				}
			}
		}
	}
	return s
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
