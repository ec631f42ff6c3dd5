// Package tracing exports one OpenTelemetry span per forwarded ILP packet over OTLP/HTTP, and does nothing
// when no endpoint is configured.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
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
type Tracer struct {
	tracer   trace.Tracer
	provider *sdktrace.TracerProvider // nil when not exporting
}

// Setup returns a Tracer that exports to endpoint, the OTLP/HTTP base URL (scheme http or https, no
// /v1/traces suffix). An empty endpoint gives a Tracer that records nothing. Spans are batched; sampling
// follows OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG when set, and keeps every span otherwise.
// Export errors are logged with slog.Default (process-wide, through otel.SetErrorHandler). Call Shutdown
// before exit to flush what is still queued.
func Setup(ctx context.Context, endpoint, serviceName, version string) (*Tracer, error) {
	if endpoint == "" {
		return &Tracer{tracer: noop.NewTracerProvider().Tracer("")}, nil
	}
	target, err := tracesURL(endpoint)
	if err != nil {
		return nil, err
	}
	exporter, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(target), otlptracehttp.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("create OTLP/HTTP trace exporter for %s: %w", endpoint, err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", serviceName),
		attribute.String("service.version", version),
	))
	if err != nil {
		return nil, fmt.Errorf("describe service %s for traces: %w", serviceName, err)
	}
	// Export failures (a collector that is down) would otherwise go to the SDK's own stderr logger, in a
	// format the connector's JSON logs do not use. The handler is process-wide; there is one tracer per process.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		slog.Warn("trace export failed", "endpoint", target, "err", err)
	}))
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	return &Tracer{tracer: provider.Tracer("github.com/m2mnet/m2m/connector/tracing"), provider: provider}, nil
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
	if t == nil || t.provider == nil {
		return ctx, func(string) {}
	}
	ctx, span := t.tracer.Start(ctx, SpanName, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		AttrPeer.String(peer),
		AttrDestinationPrefix.String(DestinationPrefix(destination)),
	))
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
	if t == nil || t.provider == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("flush traces: %w", err)
	}
	return nil
}
