package btp

import (
	"errors"
	"fmt"

	"github.com/m2mnet/m2m/connector/ilp"
)

var errTruncated = errors.New("truncated")

// reader walks an OER buffer without copying; ILP and BTP share the length rules (ilp.ReadLength).
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
	p, err := r.bytes(1)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

func (r *reader) uint64() (uint64, error) {
	p, err := r.bytes(8)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range p {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

func (r *reader) varOctets(max int) ([]byte, error) {
	n, used, err := ilp.ReadLength(r.b[r.off:])
	if err != nil {
		return nil, err
	}
	r.off += used
	if n > r.remaining() {
		return nil, fmt.Errorf("%w: length %d but %d bytes left", errTruncated, n, r.remaining())
	}
	if n > max {
		return nil, fmt.Errorf("%d bytes, at most %d allowed", n, max)
	}
	return r.bytes(n)
}

// varUint reads an OER VarUInt: a length byte then that many big-endian bytes, minimal.
func (r *reader) varUint() (uint64, error) {
	p, err := r.varOctets(8)
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

func appendUint64(b []byte, v uint64) []byte {
	return append(b, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func appendVar[T ~string | ~[]byte](b []byte, p T) []byte {
	return append(ilp.AppendLength(b, len(p)), p...)
}

func varUintSize(v uint64) int {
	n := 1
	for v > 0xff {
		v >>= 8
		n++
	}
	return 1 + n
}

func appendVarUint(b []byte, v uint64) []byte {
	n := varUintSize(v) - 1
	b = append(b, byte(n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}
