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
