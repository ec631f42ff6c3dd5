package tbdata

import (
	"encoding/hex"
	"testing"
)

// TigerBeetle's own test vectors for vsr.checksum (src/vsr/checksum.zig, "checksum test vectors"): the hash is
// written there as @byteSwap of the big-endian number, i.e. these are the tag's bytes in order.
func TestChecksumMatchesTigerBeetlesVectors(t *testing.T) {
	for _, tt := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"empty", nil, "83cc600dc4e3e7e62d4055826174f149"},
		{"16 zero bytes", make([]byte, 16), "f72ad48dd05dd1656133101cd4be3a26"},
	} {
		got := Checksum(tt.msg)
		if hex.EncodeToString(got[:]) != tt.want {
			t.Errorf("checksum(%s) = %x, want %s", tt.name, got, tt.want)
		}
	}
}

func TestSboxIsAESs(t *testing.T) {
	for in, want := range map[byte]byte{0x00: 0x63, 0x01: 0x7c, 0x53: 0xed, 0xff: 0x16} {
		if sbox[in] != want {
			t.Errorf("sbox[%#x] = %#x, want %#x", in, sbox[in], want)
		}
	}
}

// TestSboxInvertsInGF256: every entry is the affine map of x's multiplicative inverse, found here by search.
func TestSboxInvertsInGF256(t *testing.T) {
	mul := func(a, b byte) (p byte) {
		for ; b != 0; b >>= 1 {
			if b&1 != 0 {
				p ^= a
			}
			a = mul2(a)
		}
		return p
	}
	rotl := func(b byte, n uint) byte { return b<<n | b>>(8-n) }
	for x := range 256 {
		inv := byte(0)
		for y := 1; y < 256; y++ {
			if mul(byte(x), byte(y)) == 1 {
				inv = byte(y)
			}
		}
		if want := inv ^ rotl(inv, 1) ^ rotl(inv, 2) ^ rotl(inv, 3) ^ rotl(inv, 4) ^ 0x63; sbox[x] != want {
			t.Fatalf("sbox[%#x] = %#x, want %#x", x, sbox[x], want)
		}
	}
}
