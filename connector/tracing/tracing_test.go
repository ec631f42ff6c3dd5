package tracing

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	oteltrace "go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// receiver is a real OTLP/HTTP endpoint on 127.0.0.1 that keeps the spans posted to /v1/traces.
type receiver struct {
	mu       sync.Mutex
	paths    []string
	resource []*commonpb.KeyValue
	spans    []*tracepb.Span
	raw      [][]byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msg collectortrace.ExportTraceServiceRequest
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want POST application/x-protobuf", http.StatusUnsupportedMediaType)
		return
	}
	if err := proto.Unmarshal(data, &msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.paths = append(r.paths, req.URL.Path)
	r.raw = append(r.raw, data)
	for _, rs := range msg.GetResourceSpans() {
		r.resource = append(r.resource, rs.GetResource().GetAttributes()...)
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	return m
}

func TestSetupExportsOneSpanPerPacketToOTLPHTTP(t *testing.T) {
	recv := &receiver{}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)

	ctx := context.Background()
	tr, err := Setup(ctx, srv.URL+"/otlp/", "m2m-connector", "v1.2.3")
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	secret := "g.acme.bob.~stream-token-4f1d2e"
	packets := []struct{ peer, dest, code string }{
		{"alice", secret, ""},
		{"carol", "test.dave", "F02"},
	}
	for _, p := range packets {
		pctx, done := tr.StartPacket(ctx, p.peer, p.dest)
		if !oteltrace.SpanFromContext(pctx).SpanContext().IsValid() {
			t.Errorf("StartPacket(%s) context carries no valid span", p.peer)
		}
		done(p.code)
	}
	shutCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(shutCtx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.spans) != len(packets) {
		t.Fatalf("receiver got %d spans in %d requests, want %d", len(recv.spans), len(recv.paths), len(packets))
	}
	for _, path := range recv.paths {
		if path != "/otlp/v1/traces" {
			t.Errorf("posted to %s, want /otlp/v1/traces", path)
		}
	}
	res := attrs(recv.resource)
	if res["service.name"] != "m2m-connector" || res["service.version"] != "v1.2.3" {
		t.Errorf("resource = %v, want service.name m2m-connector and service.version v1.2.3", res)
	}
	byPeer := map[string]*tracepb.Span{}
	for _, s := range recv.spans {
		byPeer[attrs(s.GetAttributes())[string(AttrPeer)]] = s
	}
	tests := []struct {
		peer, prefix, result, code string
		status                     tracepb.Status_StatusCode
	}{
		{"alice", "g.acme.bob", "fulfilled", "", tracepb.Status_STATUS_CODE_OK},
		{"carol", "test.dave", "rejected", "F02", tracepb.Status_STATUS_CODE_ERROR},
	}
	for _, tt := range tests {
		s := byPeer[tt.peer]
		if s == nil {
			t.Errorf("no span with %s=%s", AttrPeer, tt.peer)
			continue
		}
		a := attrs(s.GetAttributes())
		if s.GetName() != SpanName || s.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
			t.Errorf("%s: span %q kind %v, want %q server", tt.peer, s.GetName(), s.GetKind(), SpanName)
		}
		if a[string(AttrDestinationPrefix)] != tt.prefix || a[string(AttrResult)] != tt.result || a[string(AttrCode)] != tt.code {
			t.Errorf("%s: attributes %v, want prefix %q result %q code %q", tt.peer, a, tt.prefix, tt.result, tt.code)
		}
		if s.GetStatus().GetCode() != tt.status {
			t.Errorf("%s: status %v, want %v", tt.peer, s.GetStatus().GetCode(), tt.status)
		}
	}
	for _, raw := range recv.raw {
		if strings.Contains(string(raw), "stream-token") {
			t.Errorf("exported spans carry the per-payment part of destination %q", secret)
		}
	}
}

func TestSetupWithoutEndpointRecordsNothing(t *testing.T) {
	for name, tr := range map[string]*Tracer{"nil": nil, "zero": {}, "empty endpoint": mustSetup(t, "")} {
		t.Run(name, func(t *testing.T) {
			ctx, done := tr.StartPacket(context.Background(), "alice", "g.acme.bob")
			if oteltrace.SpanFromContext(ctx).SpanContext().IsValid() {
				t.Error("a tracer without an endpoint started a real span")
			}
			done("F02")
			if err := tr.Shutdown(context.Background()); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		})
	}
}

func mustSetup(t *testing.T, endpoint string) *Tracer {
	t.Helper()
	tr, err := Setup(context.Background(), endpoint, "m2m-connector", "dev")
	if err != nil {
		t.Fatalf("Setup(%q): %v", endpoint, err)
	}
	return tr
}

func TestSetupRejectsEndpointsThatAreNotBaseURLs(t *testing.T) {
	tests := []struct {
		endpoint, wantIn, mustNotShow string
	}{
		{"jaeger:4318", "not an http(s) URL", ""},
		{"grpc://jaeger:4317", "not an http(s) URL", ""},
		{"http://jaeger:4318/v1/traces", "already ends in /v1/traces", ""},
		{"http://user:hunter2@jaeger:4318", "credentials", "hunter2"},
		{"http://jaeger:4318?token=hunter2", "query", "hunter2"},
		{"http://[::1:4318", "not a valid URL", ""},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			_, err := Setup(context.Background(), tt.endpoint, "m2m-connector", "dev")
			if err == nil {
				t.Fatalf("Setup(%q) succeeded, want an error", tt.endpoint)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantIn) || !strings.Contains(msg, EndpointEnv) {
				t.Errorf("error %q does not name %s and say %q", msg, EndpointEnv, tt.wantIn)
			}
			if tt.mustNotShow != "" && strings.Contains(msg, tt.mustNotShow) {
				t.Errorf("error %q shows the secret %q", msg, tt.mustNotShow)
			}
		})
	}
}

func TestDestinationPrefixKeepsThreeSegments(t *testing.T) {
	tests := map[string]string{
		"g.acme.bob.~abc.def": "g.acme.bob",
		"g.acme.bob":          "g.acme.bob",
		"test.dave":           "test.dave",
		"":                    "",
	}
	for in, want := range tests {
		if got := DestinationPrefix(in); got != want {
			t.Errorf("DestinationPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExportFailuresAreLoggedAndDoNotHoldUpShutdown(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	srv := httptest.NewServer(http.NotFoundHandler())
	dead := srv.URL
	srv.Close() // nothing listens there now
	tr := mustSetup(t, dead)
	for range 10 {
		_, done := tr.StartPacket(context.Background(), "alice", "g.acme.bob")
		done("T01")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_ = tr.Shutdown(ctx) // the SDK reports export failures to the error handler, not here
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Shutdown took %s with a 1 s deadline; a dead collector must not hold up the connector's exit", took)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "trace export failed") || !strings.Contains(logs.String(), dead+"/v1/traces") {
		t.Errorf("no slog warning naming %s/v1/traces; logged:\n%s", dead, logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
