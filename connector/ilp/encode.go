package ilp

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/m2mnet/m2m/connector/oer"
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
	n := 8 + timestampLen + 32 + oer.LengthSize(len(p.Destination)) + len(p.Destination) + oer.LengthSize(len(p.Data)) + len(p.Data)
	b = oer.AppendLength(append(b, byte(TypePrepare)), n)
	b = binary.BigEndian.AppendUint64(b, p.Amount)
	b, err := appendTimestamp(b, p.ExpiresAt)
	if err != nil {
		return b, fmt.Errorf("encode ILP Prepare expiresAt: %w", err)
	}
	b = append(b, p.ExecutionCondition[:]...)
	b = oer.AppendVar(b, p.Destination)
	return oer.AppendVar(b, p.Data), nil
}

// AppendBinary appends the OER encoding of f to b.
func (f *Fulfill) AppendBinary(b []byte) ([]byte, error) {
	if len(f.Data) > MaxDataLength {
		return b, fmt.Errorf("encode ILP Fulfill: data is %d bytes, at most %d allowed", len(f.Data), MaxDataLength)
	}
	n := 32 + oer.LengthSize(len(f.Data)) + len(f.Data)
	b = oer.AppendLength(append(b, byte(TypeFulfill)), n)
	b = append(b, f.Fulfillment[:]...)
	return oer.AppendVar(b, f.Data), nil
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
	n := 3 + oer.LengthSize(len(j.TriggeredBy)) + len(j.TriggeredBy) + oer.LengthSize(len(j.Message)) + len(j.Message) +
		oer.LengthSize(len(j.Data)) + len(j.Data)
	b = oer.AppendLength(append(b, byte(TypeReject)), n)
	b = append(b, j.Code...)
	b = oer.AppendVar(b, j.TriggeredBy)
	b = oer.AppendVar(b, j.Message)
	return oer.AppendVar(b, j.Data), nil
}

// MarshalBinary encodes p into one allocation of the right size.
func (p *Prepare) MarshalBinary() ([]byte, error) {
	n := 8 + timestampLen + 32 + oer.VarSize(len(p.Destination)) + oer.VarSize(len(p.Data))
	return orNil(p.AppendBinary(make([]byte, 0, oer.VarSize(n)+1)))
}

// MarshalBinary encodes f into one allocation of the right size.
func (f *Fulfill) MarshalBinary() ([]byte, error) {
	return orNil(f.AppendBinary(make([]byte, 0, oer.VarSize(32+oer.VarSize(len(f.Data)))+1)))
}

// MarshalBinary encodes j into one allocation of the right size.
func (j *Reject) MarshalBinary() ([]byte, error) {
	n := 3 + oer.VarSize(len(j.TriggeredBy)) + oer.VarSize(len(j.Message)) + oer.VarSize(len(j.Data))
	return orNil(j.AppendBinary(make([]byte, 0, oer.VarSize(n)+1)))
}

// orNil keeps MarshalBinary's answer on failure nil, as it was before it preallocated.
func orNil(b []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return b, nil
}

// AppendWithExpiry appends a copy of the encoded Prepare raw with its expiry replaced by t. A connector must
// forward condition, destination and data untouched, so it patches the 17 timestamp bytes instead of
// re-encoding. raw must have been accepted by DecodePrepare.
func AppendWithExpiry(dst, raw []byte, t time.Time) ([]byte, error) {
	_, used, err := oer.ReadLength(raw[min(1, len(raw)):])
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
