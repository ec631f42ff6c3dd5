package tracing

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// scopeName is the instrumentation scope of the packet spans.
const scopeName = "github.com/m2mnet/m2m/connector/tracing"

// span is a recorded span. It implements the OpenTelemetry trace API, so that code down the packet's path
// can find it in the context (trace.SpanFromContext) like any other.
type span struct {
	embedded.Span
	exp    *exporter
	sc     trace.SpanContext
	parent trace.SpanID
	kind   trace.SpanKind
	start  time.Time

	mu     sync.Mutex
	name   string
	end    time.Time
	attrs  []attribute.KeyValue
	events []event
	status codes.Code
	desc   string
	links  int // dropped: this exporter does not send links
	ended  bool
}

type event struct {
	name  string
	at    time.Time
	attrs []attribute.KeyValue
}

// start begins a span that is a child of the span in ctx, if any, else the root of a new trace; the sampler
// decides whether it is recorded. An unrecorded span still carries valid ids.
func (t *Tracer) start(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) trace.Span {
	parent := trace.SpanContextFromContext(ctx)
	traceID := parent.TraceID()
	if !parent.IsValid() {
		binary.BigEndian.PutUint64(traceID[:8], rand.Uint64())
		binary.BigEndian.PutUint64(traceID[8:], rand.Uint64())
	}
	var spanID trace.SpanID
	for !spanID.IsValid() {
		binary.BigEndian.PutUint64(spanID[:], rand.Uint64())
	}
	var flags trace.TraceFlags
	if t.sampler.sample(parent, traceID) {
		flags = trace.FlagsSampled
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID, TraceFlags: flags, TraceState: parent.TraceState()})
	if !sc.IsSampled() {
		return nonRecording{sc: sc}
	}
	return &span{exp: t.exp, sc: sc, parent: parent.SpanID(), kind: kind, start: time.Now(), name: name, attrs: attrs}
}

func (s *span) End(...trace.SpanEndOption) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended, s.end = true, time.Now()
	s.mu.Unlock()
	s.exp.enqueue(s)
}

func (s *span) AddEvent(name string, options ...trace.EventOption) {
	c := trace.NewEventConfig(options...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.events = append(s.events, event{name: name, at: c.Timestamp(), attrs: c.Attributes()})
	}
}

func (s *span) AddLink(trace.Link) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.links++
}

func (s *span) IsRecording() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.ended
}

// RecordError adds an "exception" event, as the OpenTelemetry SDK does.
func (s *span) RecordError(err error, options ...trace.EventOption) {
	if err == nil {
		return
	}
	options = append(options, trace.WithAttributes(
		attribute.String("exception.type", fmt.Sprintf("%T", err)),
		attribute.String("exception.message", err.Error())))
	s.AddEvent("exception", options...)
}

func (s *span) SpanContext() trace.SpanContext { return s.sc }

// SetStatus follows the API's rules: Ok is final, and a description goes with Error only.
func (s *span) SetStatus(code codes.Code, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.status == codes.Ok || code < s.status && code != codes.Ok {
		return
	}
	s.status, s.desc = code, ""
	if code == codes.Error {
		s.desc = description
	}
}

func (s *span) SetName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.name = name
	}
}

func (s *span) SetAttributes(kv ...attribute.KeyValue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.attrs = append(s.attrs, kv...)
	}
}

func (s *span) TracerProvider() trace.TracerProvider { return noop.NewTracerProvider() }

// nonRecording is a span the sampler dropped: ids to pass on, nothing recorded.
type nonRecording struct {
	noop.Span
	sc trace.SpanContext
}

func (n nonRecording) SpanContext() trace.SpanContext { return n.sc }

// sampler is the OTEL_TRACES_SAMPLER decision for a new span.
type sampler struct {
	off         bool   // always_off
	bound       uint64 // traceidratio: sample when the trace id's low 63 bits are below it
	ratio       bool
	parentBased bool
}

// samplerFromEnv reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, as the OpenTelemetry SDK does; unset
// means parentbased_always_on.
func samplerFromEnv() (sampler, error) {
	name := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER")))
	s := sampler{parentBased: name == "" || strings.HasPrefix(name, "parentbased_")}
	switch strings.TrimPrefix(name, "parentbased_") {
	case "", "always_on":
	case "always_off":
		s.off = true
	case "traceidratio":
		ratio := 1.0
		if arg := strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER_ARG")); arg != "" {
			r, err := strconv.ParseFloat(arg, 64)
			if err != nil || r < 0 || r > 1 {
				return s, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG %q is not a ratio between 0 and 1; set it to e.g. 0.1", arg)
			}
			ratio = r
		}
		s.ratio, s.bound = true, uint64(ratio*(1<<63))
	default:
		return s, fmt.Errorf("OTEL_TRACES_SAMPLER %q is not supported; use always_on, always_off, traceidratio or their parentbased_ forms", name)
	}
	return s, nil
}

func (s sampler) sample(parent trace.SpanContext, traceID trace.TraceID) bool {
	switch {
	case s.parentBased && parent.IsValid():
		return parent.IsSampled()
	case s.off:
		return false
	case s.ratio:
		return binary.BigEndian.Uint64(traceID[8:])>>1 < s.bound
	}
	return true
}

// resourceAttrs describes the process: OTEL_RESOURCE_ATTRIBUTES, then the SDK's attributes, then service
// name and version, which win.
func resourceAttrs(serviceName, version string) []attribute.KeyValue {
	m := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := m[k]; !ok {
			order = append(order, k)
		}
		m[k] = v
	}
	for _, kv := range strings.Split(os.Getenv("OTEL_RESOURCE_ATTRIBUTES"), ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			continue
		}
		if u, err := url.PathUnescape(strings.TrimSpace(v)); err == nil {
			set(k, u)
		}
	}
	set("telemetry.sdk.language", "go")
	set("telemetry.sdk.name", scopeName)
	set("telemetry.sdk.version", version)
	set("process.runtime.version", runtime.Version())
	set("service.name", serviceName)
	set("service.version", version)
	out := make([]attribute.KeyValue, 0, len(order))
	for _, k := range order {
		out = append(out, attribute.String(k, m[k]))
	}
	return out
}
