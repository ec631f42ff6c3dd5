package btp

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"
)

// messageVector is FACTS.md's BTP Message vector (from the reference implementation, btp-packet). It holds
// four entries, not three: ilp (empty), foo/bar, beep/boop (text) and json/{} (JSON).
const messageVector = "060000000125010403696c70000003666f6f000362617204626565700104626f6f70046a736f6e02027b7d"

func TestDecodeMessageVector(t *testing.T) {
	raw, _ := hex.DecodeString(messageVector)
	var p Packet
	if err := p.Decode(raw); err != nil {
		t.Fatal(err)
	}
	want := Packet{Type: TypeMessage, RequestID: 1, ProtocolData: []ProtocolData{
		{Name: "ilp", ContentType: OctetStream, Data: []byte{}},
		{Name: "foo", ContentType: OctetStream, Data: []byte("bar")},
		{Name: "beep", ContentType: TextPlain, Data: []byte("boop")},
		{Name: "json", ContentType: JSON, Data: []byte("{}")},
	}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("decoded %+v\nwant %+v", p, want)
	}
	out, err := p.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, raw) {
		t.Fatalf("re-encoded %x\nwant       %x", out, raw)
	}
}

func TestRoundTripEveryType(t *testing.T) {
	for _, p := range []Packet{
		{Type: TypeResponse, RequestID: 7, ProtocolData: []ProtocolData{{Name: "ilp", Data: bytes.Repeat([]byte{1}, 40000)}}},
		{Type: TypeError, RequestID: 1<<32 - 1, Error: ErrorInfo{Code: "F00", Name: "NotAcceptedError", TriggeredAt: time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC), Data: []byte("bad token")}},
		{Type: TypeTransfer, RequestID: 3, Amount: 99, ProtocolData: make([]ProtocolData, 300)},
		{Type: TypeMessage},
	} {
		t.Run(p.Type.String(), func(t *testing.T) {
			raw, err := p.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			var got Packet
			if err := got.Decode(raw); err != nil {
				t.Fatal(err)
			}
			again, _ := got.AppendBinary(nil)
			if !bytes.Equal(raw, again) {
				t.Fatal("round trip changed the bytes")
			}
			if got.RequestID != p.RequestID || got.Amount != p.Amount || len(got.ProtocolData) != len(p.ProtocolData) || !got.Error.TriggeredAt.Equal(p.Error.TriggeredAt) {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

func TestDecodeRefusesMalformed(t *testing.T) {
	vec, _ := hex.DecodeString(messageVector)
	tests := []struct {
		name, wantErr string
		in            []byte
	}{
		{"short header", "shorter than its 5-byte header", []byte{6, 0, 0}},
		{"BTP 1 prepare", "not a BTP 2.0 type", []byte{3, 0, 0, 0, 1, 0}},
		{"trailing", "trailing", append(append([]byte(nil), vec...), 1)},
		{"count too large", "does not fit", []byte{6, 0, 0, 0, 1, 2, 1, 200}},
		{"non-minimal count", "not minimal", []byte{6, 0, 0, 0, 1, 3, 2, 0, 0}},
		{"truncated entry", "truncated", vec[:20]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			err := p.Decode(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func BenchmarkCodecBTPDecodeMessage(b *testing.B) {
	raw, _ := hex.DecodeString(messageVector)
	var p Packet
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCodecBTPEncodeMessage(b *testing.B) {
	p := Packet{Type: TypeMessage, RequestID: 1, ProtocolData: []ProtocolData{{Name: "ilp", Data: make([]byte, 150)}}}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = p.AppendBinary(buf[:0])
	}
}

func TestAppendILPMatchesGeneralEncoder(t *testing.T) {
	for _, size := range []int{0, 100, 127, 128, 300, 40000} {
		data := bytes.Repeat([]byte{0xab}, size)
		p := Packet{Type: TypeResponse, RequestID: 0xdeadbeef, ProtocolData: []ProtocolData{{Name: "ilp", Data: data}}}
		want, _ := p.AppendBinary(nil)
		if got := appendILP(nil, TypeResponse, 0xdeadbeef, data); !bytes.Equal(got, want) {
			t.Fatalf("size %d: fast path %x\nwant %x", size, got[:20], want[:20])
		}
	}
}
