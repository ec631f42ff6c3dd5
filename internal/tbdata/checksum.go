package tbdata

import "encoding/binary"

// Checksum is TigerBeetle's vsr.checksum (src/vsr/checksum.zig): the 128-bit AEGIS-128L MAC of the bytes with a
// zero key and a zero nonce (Zig 0.13's Aegis128LMac_128, vendored as src/stdx/vendored/aegis.zig). The result is
// the tag's 16 bytes, which TigerBeetle stores as a little-endian u128.
func Checksum(msg []byte) [16]byte {
	var zero block
	s := newAegisState(zero, zero)
	var buf [32]byte
	n := len(msg)
	for len(msg) >= 32 {
		copy(buf[:], msg[:32])
		s.absorb(&buf)
		msg = msg[32:]
	}
	if len(msg) > 0 {
		buf = [32]byte{}
		copy(buf[:], msg)
		s.absorb(&buf)
	}
	return s.mac(uint64(n))
}

type block [16]byte

func xor(a, b block) (out block) {
	for i := range out {
		out[i] = a[i] ^ b[i]
	}
	return out
}

type aegisState [8]block

var (
	aegisC0 = block{0x00, 0x01, 0x01, 0x02, 0x03, 0x05, 0x08, 0x0d, 0x15, 0x22, 0x37, 0x59, 0x90, 0xe9, 0x79, 0x62}
	aegisC1 = block{0xdb, 0x3d, 0x18, 0x55, 0x6d, 0xc2, 0x2f, 0xf1, 0x20, 0x11, 0x31, 0x42, 0x73, 0xb5, 0x28, 0xdd}
)

func newAegisState(key, nonce block) *aegisState {
	kn := xor(key, nonce)
	s := &aegisState{kn, aegisC1, aegisC0, aegisC1, kn, xor(key, aegisC0), xor(key, aegisC1), xor(key, aegisC0)}
	for range 10 {
		s.update(nonce, key)
	}
	return s
}

// update is AEGIS-128L's state update: S'i = AESRound(S(i-1), Si), then d1 into S0 and d2 into S4.
func (s *aegisState) update(d1, d2 block) {
	last := s[7]
	for i := 7; i > 0; i-- {
		s[i] = aesRound(s[i-1], s[i])
	}
	s[0] = xor(aesRound(last, s[0]), d1)
	s[4] = xor(s[4], d2)
}

func (s *aegisState) absorb(b *[32]byte) {
	s.update(block(b[:16]), block(b[16:]))
}

// mac finishes the MAC of adLen bytes (the message is absorbed as associated data; the "message" is empty).
func (s *aegisState) mac(adLen uint64) [16]byte {
	var sizes block
	binary.LittleEndian.PutUint64(sizes[:8], adLen*8)
	t := xor(sizes, s[2])
	for range 7 {
		s.update(t, t)
	}
	tag := s[0]
	for i := 1; i < 7; i++ {
		tag = xor(tag, s[i])
	}
	return tag
}

// aesRound is one AES encryption round (the aesenc instruction): MixColumns(ShiftRows(SubBytes(in))) ^ key.
func aesRound(in, key block) (out block) {
	var t block
	for c := range 4 {
		for r := range 4 {
			t[r+4*c] = sbox[in[r+4*((c+r)%4)]]
		}
	}
	for c := range 4 {
		a0, a1, a2, a3 := t[4*c], t[4*c+1], t[4*c+2], t[4*c+3]
		out[4*c] = mul2(a0) ^ mul2(a1) ^ a1 ^ a2 ^ a3 ^ key[4*c]
		out[4*c+1] = a0 ^ mul2(a1) ^ mul2(a2) ^ a2 ^ a3 ^ key[4*c+1]
		out[4*c+2] = a0 ^ a1 ^ mul2(a2) ^ mul2(a3) ^ a3 ^ key[4*c+2]
		out[4*c+3] = mul2(a0) ^ a0 ^ a1 ^ a2 ^ mul2(a3) ^ key[4*c+3]
	}
	return out
}

// mul2 multiplies by x in AES's field GF(2^8) modulo x^8+x^4+x^3+x+1.
func mul2(b byte) byte {
	if b&0x80 != 0 {
		return b<<1 ^ 0x1b
	}
	return b << 1
}

// sbox is AES's S-box, computed (the multiplicative inverse, then the affine map) rather than transcribed. The
// inverses come from powers of the generator 3 (x⁻¹ = 3^(255−log₃x)): searching for each one took every
// m2mctl run, status included, some 10 ms before main.
var sbox = func() (s [256]byte) {
	var exp [255]byte
	var log [256]int
	for i, x := 0, byte(1); i < 255; i++ {
		exp[i], log[x] = x, i
		x ^= mul2(x) // x·3
	}
	for x := range 256 {
		inv := byte(0)
		if x != 0 {
			inv = exp[(255-log[x])%255]
		}
		rotl := func(b byte, n uint) byte { return b<<n | b>>(8-n) }
		s[x] = inv ^ rotl(inv, 1) ^ rotl(inv, 2) ^ rotl(inv, 3) ^ rotl(inv, 4) ^ 0x63
	}
	return s
}()
