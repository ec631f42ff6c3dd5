package ilp

import (
	"encoding/hex"
	"testing"
)

func BenchmarkCodecDecodePrepare(b *testing.B) {
	raw, _ := hex.DecodeString(prepareVector)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodePrepare(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCodecEncodePrepare(b *testing.B) {
	raw, _ := hex.DecodeString(prepareVector)
	p, _ := DecodePrepare(raw)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = p.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCodecDecodeFulfill(b *testing.B) {
	raw, _ := (&Fulfill{Fulfillment: [32]byte{1}, Data: make([]byte, 32)}).MarshalBinary()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeFulfill(raw); err != nil {
			b.Fatal(err)
		}
	}
}
