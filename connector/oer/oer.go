// Package oer reads and writes the pieces of the Octet Encoding Rules (interledger RFC 0030) that ILP packets
// and BTP packets share: fixed-size integers, length determinants, octet strings and VarUInts.
package oer

import (
	"errors"
	"fmt"
)

// ErrTruncated is wrapped by every read that runs past the end of the buffer.
var ErrTruncated = errors.New("truncated")

// maxLengthBytes bounds the long form of a length determinant: 3 bytes = 16 MiB, far beyond any ILP or BTP
// packet, which also keeps the int arithmetic safe.
const maxLengthBytes = 3

// Reader walks an OER buffer without copying: every slice it returns aliases the input. The zero Reader on a
// buffer b is Reader{B: b}.
type Reader struct {
	B   []byte
	Off int
}

// NewReader returns a Reader at the start of b.
func NewReader(b []byte) Reader { return Reader{B: b} }

// Remaining is the number of bytes not read yet.
func (r *Reader) Remaining() int { return len(r.B) - r.Off }

// Bytes returns the next n bytes, capped so that an append to them cannot overwrite what follows.
func (r *Reader) Bytes(n int) ([]byte, error) {
	if n < 0 || r.Remaining() < n {
		return nil, ErrTruncated
	}
	p := r.B[r.Off : r.Off+n : r.Off+n]
	r.Off += n
	return p, nil
}

// Byte returns the next byte.
func (r *Reader) Byte() (byte, error) {
	if r.Remaining() < 1 {
		return 0, ErrTruncated
	}
	c := r.B[r.Off]
	r.Off++
	return c, nil
}

// Uint64 reads a big-endian 64-bit unsigned integer.
func (r *Reader) Uint64() (uint64, error) {
	p, err := r.Bytes(8)
	if err != nil {
		return 0, err
	}
	return uint64(p[0])<<56 | uint64(p[1])<<48 | uint64(p[2])<<40 | uint64(p[3])<<32 |
		uint64(p[4])<<24 | uint64(p[5])<<16 | uint64(p[6])<<8 | uint64(p[7]), nil
}

// Length reads a length determinant. Strict: the long form must be minimal (no leading zero bytes, not used for
// lengths below 128), because two encodings of one packet would let a peer smuggle different bytes past a hash
// or a comparison.
func (r *Reader) Length() (int, error) {
	c, err := r.Byte()
	if err != nil {
		return 0, err
	}
	if c < 0x80 {
		return int(c), nil
	}
	n := int(c & 0x7f)
	if n == 0 || n > maxLengthBytes {
		return 0, fmt.Errorf("length prefix of %d bytes is not supported (at most %d)", n, maxLengthBytes)
	}
	p, err := r.Bytes(n)
	if err != nil {
		return 0, err
	}
	if p[0] == 0 {
		return 0, errors.New("length prefix has a leading zero byte (not minimal)")
	}
	v := 0
	for _, x := range p {
		v = v<<8 | int(x)
	}
	if v < 0x80 {
		return 0, fmt.Errorf("length %d uses the long form (not minimal)", v)
	}
	return v, nil
}

// VarOctets reads a length-prefixed octet string of at most max bytes.
func (r *Reader) VarOctets(max int) ([]byte, error) {
	n, err := r.Length()
	if err != nil {
		return nil, err
	}
	if n > r.Remaining() {
		return nil, fmt.Errorf("%w: length %d but %d bytes left", ErrTruncated, n, r.Remaining())
	}
	if n > max {
		return nil, fmt.Errorf("%d bytes, at most %d allowed", n, max)
	}
	return r.Bytes(n)
}

// VarUint reads a VarUInt: a length byte then that many big-endian bytes, minimal, at most 8.
func (r *Reader) VarUint() (uint64, error) {
	p, err := r.VarOctets(8)
	if err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, errors.New("VarUInt has no bytes")
	}
	if len(p) > 1 && p[0] == 0 {
		return 0, errors.New("VarUInt has a leading zero byte (not minimal)")
	}
	var v uint64
	for _, c := range p {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

// ReadLength decodes a length determinant at the start of b and returns it with the bytes it used.
func ReadLength(b []byte) (n, used int, err error) {
	r := Reader{B: b}
	n, err = r.Length()
	return n, r.Off, err
}
