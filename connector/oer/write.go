package oer

// AppendLength appends a length determinant for n.
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

// VarSize is the size of an octet string of n bytes with its length determinant.
func VarSize(n int) int { return LengthSize(n) + n }

// AppendVar appends p as a length-prefixed octet string.
func AppendVar[T ~string | ~[]byte](b []byte, p T) []byte {
	return append(AppendLength(b, len(p)), p...)
}

// AppendUint64 appends v big-endian in 8 bytes.
func AppendUint64(b []byte, v uint64) []byte {
	return append(b, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// VarUintSize is the number of bytes AppendVarUint writes for v.
func VarUintSize(v uint64) int {
	n := 1
	for v > 0xff {
		v >>= 8
		n++
	}
	return 1 + n
}

// AppendVarUint appends v as a minimal VarUInt.
func AppendVarUint(b []byte, v uint64) []byte {
	n := VarUintSize(v) - 1
	b = append(b, byte(n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}
