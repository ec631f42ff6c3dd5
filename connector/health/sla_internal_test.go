package health

import (
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/metrics"
)

func TestPacketWindowForgetsPacketsOlderThanTheWindow(t *testing.T) {
	m := metrics.New("v", "c", "go")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := &PacketWindow{gatherer: m.Registry, window: time.Minute, now: func() time.Time { return now }}
	w.Sample()
	m.Packets.WithLabelValues(metrics.ResultRejected, "T04").Add(10) // an old burst of failures
	for i := 0; i < 9; i++ {
		now = now.Add(10 * time.Second)
		w.Sample()
	}
	m.Packets.WithLabelValues(metrics.ResultFulfilled, "").Add(5)
	got := w.SLA()
	if got.Packets != 5 || got.PacketSuccessRate == nil || *got.PacketSuccessRate != 1 || got.WindowSeconds != 60 {
		t.Fatalf("SLA = %+v (rate %v); want the last 60 s only: 5 packets, all fulfilled", got, got.PacketSuccessRate)
	}
	if len(w.samples) > 8 {
		t.Fatalf("kept %d samples for a 60 s window sampled every 10 s", len(w.samples))
	}
}

func TestQuantileInterpolatesLikePrometheus(t *testing.T) {
	bounds := []float64{1, 2, 4}
	tests := []struct {
		name       string
		cumulative []uint64
		total      uint64
		q, want    float64
	}{
		{"inside the first bucket", []uint64{10, 10, 10}, 10, 0.5, 0.5},
		{"inside a middle bucket", []uint64{0, 10, 10}, 10, 0.5, 1.5},
		{"rank beyond the last finite bound", []uint64{0, 0, 5}, 10, 0.99, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := quantile(tc.q, bounds, tc.cumulative, tc.total); got != tc.want {
				t.Fatalf("quantile = %v, want %v", got, tc.want)
			}
		})
	}
}
