package ilp

import (
	"errors"
	"fmt"
)

// errTruncated and errTrailing are the two ways a buffer can be the wrong size; callers wrap them with the field.
var (
	errTruncated = errors.New("truncated")
	errTrailing  = errors.New("trailing bytes after the packet")
)

// reader walks an OER buffer without copying: every slice it returns aliases the input.
type reader struct {
	b   []byte
	off int
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) bytes(n int) ([]byte, error) {
	if n < 0 || r.remaining() < n {
		return nil, errTruncated
	}
	p := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return p, nil
}

func (r *reader) byte() (byte, error) {
	if r.remaining() < 1 {
		return 0, errTruncated
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) uint64() (uint64, error) {
	p, err := r.bytes(8)
	if err != nil {
		return 0, err
	}
	return uint64(p[0])<<56 | uint64(p[1])<<48 | uint64(p[2])<<40 | uint64(p[3])<<32 |
		uint64(p[4])<<24 | uint64(p[5])<<16 | uint64(p[6])<<8 | uint64(p[7]), nil
}

// length reads an OER length determinant. Strict: the long form must be minimal (no leading zero bytes, not
// used for lengths below 128), because two encodings of one packet would let a peer smuggle different bytes
// past a hash or a comparison.
func (r *reader) length() (int, error) {
	c, err := r.byte()
	if err != nil {
		return 0, err
	}
	if c < 0x80 {
		return int(c), nil
	}
	n := int(c & 0x7f)
	if n == 0 || n > 3 { // 3 bytes = 16 MiB, far beyond any ILP or BTP packet; also keeps int math safe.
		return 0, fmt.Errorf("length prefix of %d bytes is not supported (at most 3)", n)
	}
	p, err := r.bytes(n)
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

// varOctets reads a length-prefixed octet string of at most max bytes.
func (r *reader) varOctets(max int) ([]byte, error) {
	n, err := r.length()
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, fmt.Errorf("%d bytes, at most %d allowed", n, max)
	}
	return r.bytes(n)
}

// AppendLength appends an OER length determinant for n.
func AppendLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n <= 0xff:
		return append(b, 0x81, byte(n))
	case n <= 0xffff:
		return append(b, 0x82, byte(n>>8), byte(n))
	default:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
}

// LengthSize is the number of bytes AppendLength writes for n.
func LengthSize(n int) int {
	switch {
	case n < 0x80:
		return 1
	case n <= 0xff:
		return 2
	case n <= 0xffff:
		return 3
	default:
		return 4
	}
}

func appendVarOctets(b, p []byte) []byte {
	return append(AppendLength(b, len(p)), p...)
}

func appendVarString(b []byte, s string) []byte {
	return append(AppendLength(b, len(s)), s...)
}

// ReadLength and ReadVarOctets expose the strict OER reader to BTP, which shares the encoding.
// ReadLength decodes a length determinant at the start of b and returns it with the bytes it used.
func ReadLength(b []byte) (n, used int, err error) {
	r := reader{b: b}
	n, err = r.length()
	return n, r.off, err
}
