// Package tracing exports one OpenTelemetry span per forwarded ILP packet over OTLP/HTTP, and does nothing
// when no endpoint is configured.
package tracing

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// EndpointEnv names the environment variable that holds the OTLP/HTTP base URL (e.g. http://jaeger:4318);
// traces go to its /v1/traces, as the OpenTelemetry specification says for this variable.
const EndpointEnv = "OTEL_EXPORTER_OTLP_ENDPOINT"

// SpanName is the name of the span recorded for each forwarded packet.
const SpanName = "ilp.forward"

// Span attribute keys.
const (
	AttrPeer              = attribute.Key("ilp.peer")
	AttrDestinationPrefix = attribute.Key("ilp.destination_prefix")
	AttrResult            = attribute.Key("ilp.result")
	AttrCode              = attribute.Key("ilp.code")
)

// prefixSegments is how many segments of a destination address a span keeps. The rest of an address is
// per-receiver or per-payment (a STREAM address carries an encrypted token): it would leak into the trace
// store and give every span a unique value.
const prefixSegments = 3

// Tracer records packet spans. The zero value and a nil *Tracer are valid and record nothing.
//
// It is the OpenTelemetry trace API (spans in the context are trace.Span) over an exporter of its own: the
// OpenTelemetry SDK and its OTLP exporter (with gRPC and the collector's gateway code) made up 5.7 MB of the
// 18.6 MB binary, for one kind of span. What it keeps of them: OTLP/HTTP protobuf, batching (OTEL_BSP_*),
// sampling (OTEL_TRACES_SAMPLER, _ARG), the resource (OTEL_RESOURCE_ATTRIBUTES), the exporter's headers,
// compression, timeout and TLS settings (OTEL_EXPORTER_OTLP_[TRACES_]*), and retries on 429/502/503/504.
type Tracer struct {
	exp     *exporter // nil when not exporting
	sampler sampler
}

// Setup returns a Tracer that exports to endpoint, the OTLP/HTTP base URL (scheme http or https, no
// /v1/traces suffix). An empty endpoint gives a Tracer that records nothing. Spans are batched; sampling
// follows OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG when set, and keeps every span otherwise.
// Export errors are logged with slog.Default. Call Shutdown before exit to flush what is still queued.
func Setup(ctx context.Context, endpoint, serviceName, version string) (*Tracer, error) {
	if endpoint == "" {
		return &Tracer{}, nil
	}
	target, err := tracesURL(endpoint)
	if err != nil {
		return nil, err
	}
	smp, err := samplerFromEnv()
	if err != nil {
		return nil, err
	}
	exp, err := newExporter(target, resourceAttrs(serviceName, version))
	if err != nil {
		return nil, fmt.Errorf("create OTLP/HTTP trace exporter for %s: %w", endpoint, err)
	}
	return &Tracer{exp: exp, sampler: smp}, nil
}

// tracesURL turns an OTEL_EXPORTER_OTLP_ENDPOINT base URL into the URL traces are posted to.
func tracesURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		// The value is not echoed: an unparseable URL may still hold a password.
		return "", fmt.Errorf("%s is not a valid URL; set it to the collector's OTLP/HTTP base URL, e.g. http://jaeger:4318", EndpointEnv)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s %q is not an http(s) URL with a host; set it to the collector's OTLP/HTTP base URL, e.g. http://jaeger:4318", EndpointEnv, u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%s %q has a query, fragment or credentials (not shown); set it to scheme://host:port[/path] only", EndpointEnv, u.Scheme+"://"+u.Host+u.Path)
	}
	if strings.HasSuffix(u.Path, "/v1/traces") {
		return "", fmt.Errorf("%s %q already ends in /v1/traces; give the base URL (the exporter appends /v1/traces)", EndpointEnv, endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	return u.String(), nil
}

// StartPacket starts the span for one packet received from peer for destination, and returns the context
// to forward it with and the function to call once the packet is answered: with "" when it was fulfilled,
// or with the ILP error code of the reject (e.g. "F02").
func (t *Tracer) StartPacket(ctx context.Context, peer, destination string) (context.Context, func(code string)) {
	if t == nil || t.exp == nil {
		return ctx, func(string) {}
	}
	span := t.start(ctx, SpanName, trace.SpanKindServer,
		AttrPeer.String(peer),
		AttrDestinationPrefix.String(DestinationPrefix(destination)),
	)
	ctx = trace.ContextWithSpan(ctx, span)
	return ctx, func(code string) {
		if code == "" {
			span.SetAttributes(AttrResult.String("fulfilled"))
			span.SetStatus(codes.Ok, "")
		} else {
			span.SetAttributes(AttrResult.String("rejected"), AttrCode.String(code))
			span.SetStatus(codes.Error, "rejected "+code)
		}
		span.End()
	}
}

// DestinationPrefix returns the first segments of an ILP address that a span may carry.
func DestinationPrefix(destination string) string {
	parts := strings.SplitN(destination, ".", prefixSegments+1)
	if len(parts) > prefixSegments {
		parts = parts[:prefixSegments]
	}
	return strings.Join(parts, ".")
}

// Shutdown flushes queued spans and stops exporting; it waits no longer than ctx allows. It is safe on a
// Tracer that records nothing.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil || t.exp == nil {
		return nil
	}
	if err := t.exp.shutdown(ctx); err != nil {
		return fmt.Errorf("flush traces: %w", err)
	}
	return nil
}
