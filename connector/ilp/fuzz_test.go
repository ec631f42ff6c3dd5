package ilp

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// FuzzDecode checks that no input panics and that whatever decodes re-encodes to the very same bytes
// (the decoder is strict: one packet, one encoding).
func FuzzDecode(f *testing.F) {
	seed, _ := hex.DecodeString(prepareVector)
	f.Add(seed)
	for _, p := range []Packet{
		&Fulfill{Fulfillment: [32]byte{1}, Data: []byte("data")},
		&Reject{Code: F08AmountTooLarge, TriggeredBy: "g.c", Message: "m", Data: AmountTooLargeData(2, 1)},
	} {
		b, _ := p.AppendBinary(nil)
		f.Add(b)
	}
	f.Add([]byte{12, 0x82, 0x01, 0x4b})
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Decode(in)
		if err != nil {
			return
		}
		out, err := p.AppendBinary(nil)
		if err != nil {
			t.Fatalf("decoded packet does not re-encode: %v", err)
		}
		if !bytes.Equal(in, out) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", in, out)
		}
	})
}
