package tracing

import (
	"math"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// The OTLP protobuf messages, written field by field (opentelemetry-proto, trace/v1 and common/v1): the
// generated types would bring the collector's gRPC service code along.

// encodeResource encodes ResourceSpans' resource (field 1), the part of every request that does not change.
func encodeResource(resource []attribute.KeyValue) []byte {
	var res []byte
	for _, kv := range resource {
		res = appendMessage(res, 1, appendKeyValue(nil, kv)) // Resource.attributes
	}
	return appendMessage(nil, 1, res) // ResourceSpans.resource
}

// encodeRequest encodes an ExportTraceServiceRequest with one ResourceSpans holding one ScopeSpans.
func encodeRequest(resourceField []byte, spans []*span) []byte {
	var scope []byte
	scope = protowire.AppendTag(scope, 1, protowire.BytesType) // ScopeSpans.scope
	scope = protowire.AppendBytes(scope, protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), scopeName))
	for _, s := range spans {
		scope = appendMessage(scope, 2, appendSpan(nil, s)) // ScopeSpans.spans
	}
	rs := append(append([]byte(nil), resourceField...), appendMessage(nil, 2, scope)...) // ResourceSpans.scope_spans
	return appendMessage(nil, 1, rs)                                                     // ExportTraceServiceRequest.resource_spans
}

func appendSpan(b []byte, s *span) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	tid, sid := s.sc.TraceID(), s.sc.SpanID()
	b = appendBytesField(b, 1, tid[:])
	b = appendBytesField(b, 2, sid[:])
	if ts := s.sc.TraceState().String(); ts != "" {
		b = appendStringField(b, 3, ts)
	}
	if s.parent.IsValid() {
		b = appendBytesField(b, 4, s.parent[:])
	}
	b = appendStringField(b, 5, s.name)
	b = protowire.AppendTag(b, 6, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(otlpKind(s.kind)))
	b = protowire.AppendTag(b, 7, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, uint64(s.start.UnixNano()))
	b = protowire.AppendTag(b, 8, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, uint64(s.end.UnixNano()))
	for _, kv := range s.attrs {
		b = appendMessage(b, 9, appendKeyValue(nil, kv))
	}
	for _, ev := range s.events {
		var e []byte
		e = protowire.AppendTag(e, 1, protowire.Fixed64Type)
		e = protowire.AppendFixed64(e, uint64(ev.at.UnixNano()))
		e = appendStringField(e, 2, ev.name)
		for _, kv := range ev.attrs {
			e = appendMessage(e, 3, appendKeyValue(nil, kv))
		}
		b = appendMessage(b, 11, e)
	}
	if s.links > 0 {
		b = protowire.AppendTag(b, 14, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(s.links))
	}
	var st []byte
	if s.desc != "" {
		st = appendStringField(st, 2, s.desc)
	}
	if code := otlpStatus(s.status); code != 0 {
		st = protowire.AppendTag(st, 3, protowire.VarintType)
		st = protowire.AppendVarint(st, uint64(code))
	}
	b = appendMessage(b, 15, st)
	b = protowire.AppendTag(b, 16, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, uint32(s.sc.TraceFlags()))
}

// otlpKind maps the API's span kinds (Internal 1 … Consumer 5) to OTLP's (SPAN_KIND_INTERNAL 1 …).
func otlpKind(k trace.SpanKind) int {
	if k < trace.SpanKindInternal || k > trace.SpanKindConsumer {
		return 1
	}
	return int(k)
}

// otlpStatus maps the API's codes (Unset 0, Error 1, Ok 2) to OTLP's (UNSET 0, OK 1, ERROR 2).
func otlpStatus(c codes.Code) int {
	switch c {
	case codes.Ok:
		return 1
	case codes.Error:
		return 2
	}
	return 0
}

func appendKeyValue(b []byte, kv attribute.KeyValue) []byte {
	b = appendStringField(b, 1, string(kv.Key))
	return appendMessage(b, 2, appendAnyValue(nil, kv.Value))
}

func appendAnyValue(b []byte, v attribute.Value) []byte {
	switch v.Type() {
	case attribute.BOOL:
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		return protowire.AppendVarint(b, protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		return protowire.AppendVarint(b, uint64(v.AsInt64()))
	case attribute.FLOAT64:
		b = protowire.AppendTag(b, 4, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, math.Float64bits(v.AsFloat64()))
	case attribute.BOOLSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.STRINGSLICE:
		var arr []byte
		for _, e := range sliceValues(v) {
			arr = appendMessage(arr, 1, appendAnyValue(nil, e))
		}
		return appendMessage(b, 5, arr)
	default:
		return appendStringField(b, 1, v.Emit())
	}
}

func sliceValues(v attribute.Value) []attribute.Value {
	var out []attribute.Value
	switch v.Type() {
	case attribute.BOOLSLICE:
		for _, x := range v.AsBoolSlice() {
			out = append(out, attribute.BoolValue(x))
		}
	case attribute.INT64SLICE:
		for _, x := range v.AsInt64Slice() {
			out = append(out, attribute.Int64Value(x))
		}
	case attribute.FLOAT64SLICE:
		for _, x := range v.AsFloat64Slice() {
			out = append(out, attribute.Float64Value(x))
		}
	case attribute.STRINGSLICE:
		for _, x := range v.AsStringSlice() {
			out = append(out, attribute.StringValue(x))
		}
	}
	return out
}

func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), msg)
}

func appendBytesField(b []byte, num protowire.Number, v []byte) []byte {
	return appendMessage(b, num, v)
}

func appendStringField(b []byte, num protowire.Number, s string) []byte {
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
}
