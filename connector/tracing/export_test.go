package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	oteltrace "go.opentelemetry.io/otel/trace"
)

// shutdown flushes tr within 10 s.
func shutdown(t *testing.T, tr *Tracer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestSamplerFromEnvironment(t *testing.T) {
	tests := []struct {
		sampler, arg string
		wantSpans    int
	}{
		{"", "", 4},
		{"always_on", "", 4},
		{"always_off", "", 0},
		{"parentbased_always_off", "", 0},
		{"traceidratio", "0", 0},
		{"parentbased_traceidratio", "1", 4},
	}
	for _, tt := range tests {
		t.Run(tt.sampler+"/"+tt.arg, func(t *testing.T) {
			t.Setenv("OTEL_TRACES_SAMPLER", tt.sampler)
			t.Setenv("OTEL_TRACES_SAMPLER_ARG", tt.arg)
			recv := &receiver{}
			srv := httptest.NewServer(recv)
			t.Cleanup(srv.Close)
			tr := mustSetup(t, srv.URL)
			for range 4 {
				ctx, done := tr.StartPacket(context.Background(), "alice", "g.acme.bob")
				if !oteltrace.SpanContextFromContext(ctx).IsValid() {
					t.Error("a span the sampler dropped must still carry valid ids")
				}
				done("")
			}
			shutdown(t, tr)
			recv.mu.Lock()
			defer recv.mu.Unlock()
			if len(recv.spans) != tt.wantSpans {
				t.Fatalf("%d spans exported, want %d", len(recv.spans), tt.wantSpans)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		t.Setenv("OTEL_TRACES_SAMPLER", "jaeger_remote")
		if _, err := Setup(context.Background(), "http://127.0.0.1:4318", "m2m-connector", "dev"); err == nil {
			t.Fatal("an unsupported sampler was accepted")
		}
	})
}

func TestChildSpanJoinsItsParentsTrace(t *testing.T) {
	recv := &receiver{}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	tr := mustSetup(t, srv.URL)
	pctx, pdone := tr.StartPacket(context.Background(), "alice", "g.acme.bob")
	cctx, cdone := tr.StartPacket(pctx, "bob", "g.acme.carol")
	parent, child := oteltrace.SpanContextFromContext(pctx), oteltrace.SpanContextFromContext(cctx)
	cdone("")
	pdone("")
	shutdown(t, tr)
	if child.TraceID() != parent.TraceID() || child.SpanID() == parent.SpanID() {
		t.Fatalf("child %v, parent %v: want the same trace and a span of its own", child, parent)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	for _, s := range recv.spans {
		if [8]byte(s.GetSpanId()) == child.SpanID() && [8]byte(s.GetParentSpanId()) != parent.SpanID() {
			t.Fatalf("the child span's parent id is %x, want %s", s.GetParentSpanId(), parent.SpanID())
		}
	}
}

// headerReceiver records the headers of each request before handing it to the receiver; the first
// failures requests get 503.
type headerReceiver struct {
	receiver
	hmu      sync.Mutex
	headers  []http.Header
	failures int
	got      chan struct{}
}

func (h *headerReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.hmu.Lock()
	h.headers = append(h.headers, r.Header.Clone())
	fail := len(h.headers) <= h.failures
	h.hmu.Unlock()
	if fail {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	h.receiver.ServeHTTP(w, r)
	select {
	case h.got <- struct{}{}:
	default:
	}
}

func TestExporterSettingsFromEnvironment(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20abc,x-team=ilp")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging,service.name=ignored")
	t.Setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2")
	recv := &headerReceiver{failures: 1, got: make(chan struct{}, 1)}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	tr := mustSetup(t, srv.URL)
	for range 2 { // a full batch is sent at once, without waiting for Shutdown or the 5 s delay
		_, done := tr.StartPacket(context.Background(), "alice", "g.acme.bob")
		done("")
	}
	select {
	case <-recv.got: // after a 503 with Retry-After: 1, the retry got through
	case <-time.After(20 * time.Second):
		t.Fatal("a full batch was not exported (or not retried after 503)")
	}
	shutdown(t, tr)
	recv.hmu.Lock()
	defer recv.hmu.Unlock()
	last := recv.headers[len(recv.headers)-1]
	if len(recv.headers) != 2 || last.Get("Authorization") != "Bearer abc" || last.Get("X-Team") != "ilp" || last.Get("Content-Encoding") != "gzip" {
		t.Fatalf("%d requests, last headers %v; want 2 (one retry) with the configured headers, gzipped", len(recv.headers), last)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	res := attrs(recv.resource)
	if len(recv.spans) != 2 || res["deployment.environment"] != "staging" || res["service.name"] != "m2m-connector" {
		t.Fatalf("%d spans, resource %v; want 2, with deployment.environment from the environment and our service.name", len(recv.spans), res)
	}
}
