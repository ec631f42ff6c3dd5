package btp

import (
	"encoding/hex"
	"reflect"
	"testing"
	"time"
)

// FuzzBTPDecode checks that no input panics and that a decoded packet survives encode → decode unchanged.
func FuzzBTPDecode(f *testing.F) {
	seed, _ := hex.DecodeString(messageVector)
	f.Add(seed)
	e := Packet{Type: TypeError, RequestID: 2, Error: ErrorInfo{Code: "F00", Name: "NotAcceptedError", TriggeredAt: time.Unix(0, 0)}}
	b, _ := e.AppendBinary(nil)
	f.Add(b)
	tr := Packet{Type: TypeTransfer, Amount: 5, ProtocolData: []ProtocolData{{Name: "x", Data: []byte{1}}}}
	b, _ = tr.AppendBinary(nil)
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		var p Packet
		if err := p.Decode(in); err != nil {
			return
		}
		out, err := p.AppendBinary(nil)
		if err != nil {
			t.Fatalf("decoded packet does not re-encode: %v", err)
		}
		var q Packet
		if err := q.Decode(out); err != nil {
			t.Fatalf("re-encoded packet does not decode: %v", err)
		}
		if !p.Error.TriggeredAt.Equal(q.Error.TriggeredAt) {
			t.Fatalf("triggeredAt %v became %v", p.Error.TriggeredAt, q.Error.TriggeredAt)
		}
		p.Error.TriggeredAt, q.Error.TriggeredAt = time.Time{}, time.Time{}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip changed the packet:\n%+v\n%+v", p, q)
		}
	})
}
