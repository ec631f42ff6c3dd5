package ilp

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"
)

// AppendBinary appends the OER encoding of p to b. It refuses what DecodePrepare would refuse, so a packet
// this connector sends is one it would accept.
func (p *Prepare) AppendBinary(b []byte) ([]byte, error) {
	if err := ValidAddress(p.Destination); err != nil {
		return b, fmt.Errorf("encode ILP Prepare destination: %w", err)
	}
	if len(p.Data) > MaxDataLength {
		return b, fmt.Errorf("encode ILP Prepare: data is %d bytes, at most %d allowed", len(p.Data), MaxDataLength)
	}
	n := 8 + timestampLen + 32 + LengthSize(len(p.Destination)) + len(p.Destination) + LengthSize(len(p.Data)) + len(p.Data)
	b = AppendLength(append(b, byte(TypePrepare)), n)
	b = binary.BigEndian.AppendUint64(b, p.Amount)
	b, err := appendTimestamp(b, p.ExpiresAt)
	if err != nil {
		return b, fmt.Errorf("encode ILP Prepare expiresAt: %w", err)
	}
	b = append(b, p.ExecutionCondition[:]...)
	b = appendVarString(b, p.Destination)
	return appendVarOctets(b, p.Data), nil
}

// AppendBinary appends the OER encoding of f to b.
func (f *Fulfill) AppendBinary(b []byte) ([]byte, error) {
	if len(f.Data) > MaxDataLength {
		return b, fmt.Errorf("encode ILP Fulfill: data is %d bytes, at most %d allowed", len(f.Data), MaxDataLength)
	}
	n := 32 + LengthSize(len(f.Data)) + len(f.Data)
	b = AppendLength(append(b, byte(TypeFulfill)), n)
	b = append(b, f.Fulfillment[:]...)
	return appendVarOctets(b, f.Data), nil
}

// AppendBinary appends the OER encoding of j to b.
func (j *Reject) AppendBinary(b []byte) ([]byte, error) {
	if _, err := ParseCode(string(j.Code)); err != nil {
		return b, fmt.Errorf("encode ILP Reject: %w", err)
	}
	if j.TriggeredBy != "" {
		if err := ValidAddress(j.TriggeredBy); err != nil {
			return b, fmt.Errorf("encode ILP Reject triggeredBy: %w", err)
		}
	}
	if len(j.Message) > MaxMessageLength || !utf8.ValidString(j.Message) {
		return b, fmt.Errorf("encode ILP Reject: message must be valid UTF-8 of at most %d bytes (got %d)", MaxMessageLength, len(j.Message))
	}
	if len(j.Data) > MaxDataLength {
		return b, fmt.Errorf("encode ILP Reject: data is %d bytes, at most %d allowed", len(j.Data), MaxDataLength)
	}
	n := 3 + LengthSize(len(j.TriggeredBy)) + len(j.TriggeredBy) + LengthSize(len(j.Message)) + len(j.Message) +
		LengthSize(len(j.Data)) + len(j.Data)
	b = AppendLength(append(b, byte(TypeReject)), n)
	b = append(b, j.Code...)
	b = appendVarString(b, j.TriggeredBy)
	b = appendVarString(b, j.Message)
	return appendVarOctets(b, j.Data), nil
}

// MarshalBinary encodes p into one allocation of the right size.
func (p *Prepare) MarshalBinary() ([]byte, error) {
	n := 8 + timestampLen + 32 + varSize(len(p.Destination)) + varSize(len(p.Data))
	return orNil(p.AppendBinary(make([]byte, 0, varSize(n)+1)))
}

// MarshalBinary encodes f into one allocation of the right size.
func (f *Fulfill) MarshalBinary() ([]byte, error) {
	return orNil(f.AppendBinary(make([]byte, 0, varSize(32+varSize(len(f.Data)))+1)))
}

// MarshalBinary encodes j into one allocation of the right size.
func (j *Reject) MarshalBinary() ([]byte, error) {
	n := 3 + varSize(len(j.TriggeredBy)) + varSize(len(j.Message)) + varSize(len(j.Data))
	return orNil(j.AppendBinary(make([]byte, 0, varSize(n)+1)))
}

// orNil keeps MarshalBinary's answer on failure nil, as it was before it preallocated.
func orNil(b []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return b, nil
}

// varSize is the size of an octet string of n bytes with its length prefix.
func varSize(n int) int { return LengthSize(n) + n }

// AppendWithExpiry appends a copy of the encoded Prepare raw with its expiry replaced by t. A connector must
// forward condition, destination and data untouched, so it patches the 17 timestamp bytes instead of
// re-encoding. raw must have been accepted by DecodePrepare.
func AppendWithExpiry(dst, raw []byte, t time.Time) ([]byte, error) {
	_, used, err := ReadLength(raw[min(1, len(raw)):])
	if err != nil || len(raw) < 1+used+8+timestampLen || raw[0] != byte(TypePrepare) {
		return dst, fmt.Errorf("patch ILP Prepare expiry: not an encoded Prepare")
	}
	at := len(dst) + 1 + used + 8
	dst = append(dst, raw...)
	var buf [timestampLen]byte
	ts, err := appendTimestamp(buf[:0], t)
	if err != nil {
		return dst[:len(dst)-len(raw)], fmt.Errorf("patch ILP Prepare expiry: %w", err)
	}
	copy(dst[at:], ts)
	return dst, nil
}
