// Package ilp encodes and decodes Interledger v4 packets (RFC 0027, OER per RFC 0030) and validates ILP addresses.
package ilp

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/m2mnet/m2m/connector/oer"
)

// Type is the first byte of every ILP packet.
type Type byte

// The three ILPv4 packet types.
const (
	TypePrepare Type = 12
	TypeFulfill Type = 13
	TypeReject  Type = 14
)

func (t Type) String() string {
	switch t {
	case TypePrepare:
		return "Prepare"
	case TypeFulfill:
		return "Fulfill"
	case TypeReject:
		return "Reject"
	}
	return fmt.Sprintf("Type(%d)", byte(t))
}

// Limits from RFC 0027.
const (
	MaxDataLength    = 32767
	MaxMessageLength = 8191
)

// Prepare asks the next hop to pay Amount to Destination, against the fulfillment of ExecutionCondition.
// Data aliases the decoded buffer.
type Prepare struct {
	Amount             uint64
	ExpiresAt          time.Time
	ExecutionCondition [32]byte
	Destination        string
	Data               []byte
}

// Fulfill answers a Prepare with the preimage of its condition. Data aliases the decoded buffer.
type Fulfill struct {
	Fulfillment [32]byte
	Data        []byte
}

// Reject answers a Prepare with an error. Data aliases the decoded buffer.
type Reject struct {
	Code        Code
	TriggeredBy string
	Message     string
	Data        []byte
}

// Error makes a Reject usable as an error value.
func (r *Reject) Error() string {
	return fmt.Sprintf("ILP reject %s from %q: %s", r.Code, r.TriggeredBy, r.Message)
}

// Fulfills reports whether f is the preimage of condition.
func Fulfills(fulfillment, condition [32]byte) bool {
	return sha256.Sum256(fulfillment[:]) == condition
}

// PacketType reports the type of an encoded packet without decoding it.
func PacketType(b []byte) (Type, error) {
	if len(b) == 0 {
		return 0, errors.New("ILP packet is empty")
	}
	switch t := Type(b[0]); t {
	case TypePrepare, TypeFulfill, TypeReject:
		return t, nil
	default:
		return 0, fmt.Errorf("ILP packet type %d is unknown; want 12 (Prepare), 13 (Fulfill) or 14 (Reject)", b[0])
	}
}

// envelope checks the type byte and returns the body; the length prefix must cover exactly the rest of b.
func envelope(b []byte, want Type) ([]byte, error) {
	t, err := PacketType(b)
	if err != nil {
		return nil, err
	}
	if t != want {
		return nil, fmt.Errorf("ILP packet is a %s, want a %s", t, want)
	}
	r := oer.Reader{B: b, Off: 1}
	n, err := r.Length()
	if err != nil {
		return nil, fmt.Errorf("ILP %s length: %w", want, err)
	}
	body, err := r.Bytes(n)
	if err != nil {
		return nil, fmt.Errorf("ILP %s body of %d bytes: %w", want, n, err)
	}
	if r.Remaining() != 0 {
		return nil, fmt.Errorf("ILP %s: %w (%d)", want, errTrailing, r.Remaining())
	}
	return body, nil
}

// DecodePrepare decodes an ILP Prepare strictly; Data aliases b.
func DecodePrepare(b []byte) (Prepare, error) {
	var p Prepare
	body, err := envelope(b, TypePrepare)
	if err != nil {
		return p, err
	}
	r := oer.NewReader(body)
	if p.Amount, err = r.Uint64(); err != nil {
		return p, fmt.Errorf("ILP Prepare amount: %w", err)
	}
	ts, err := r.Bytes(timestampLen)
	if err != nil {
		return p, fmt.Errorf("ILP Prepare expiresAt: %w", err)
	}
	if p.ExpiresAt, err = parseTimestamp(ts); err != nil {
		return p, fmt.Errorf("ILP Prepare expiresAt: %w", err)
	}
	cond, err := r.Bytes(32)
	if err != nil {
		return p, fmt.Errorf("ILP Prepare executionCondition: %w", err)
	}
	copy(p.ExecutionCondition[:], cond)
	dest, err := r.VarOctets(MaxAddressLength)
	if err != nil {
		return p, fmt.Errorf("ILP Prepare destination: %w", err)
	}
	p.Destination = string(dest)
	if err := ValidAddress(p.Destination); err != nil {
		return p, fmt.Errorf("ILP Prepare destination: %w", err)
	}
	if p.Data, err = r.VarOctets(MaxDataLength); err != nil {
		return p, fmt.Errorf("ILP Prepare data: %w", err)
	}
	if r.Remaining() != 0 {
		return p, fmt.Errorf("ILP Prepare: %w (%d)", errTrailing, r.Remaining())
	}
	return p, nil
}

// DecodeFulfill decodes an ILP Fulfill strictly; Data aliases b.
func DecodeFulfill(b []byte) (Fulfill, error) {
	var f Fulfill
	body, err := envelope(b, TypeFulfill)
	if err != nil {
		return f, err
	}
	r := oer.NewReader(body)
	ful, err := r.Bytes(32)
	if err != nil {
		return f, fmt.Errorf("ILP Fulfill fulfillment: %w", err)
	}
	copy(f.Fulfillment[:], ful)
	if f.Data, err = r.VarOctets(MaxDataLength); err != nil {
		return f, fmt.Errorf("ILP Fulfill data: %w", err)
	}
	if r.Remaining() != 0 {
		return f, fmt.Errorf("ILP Fulfill: %w (%d)", errTrailing, r.Remaining())
	}
	return f, nil
}

// DecodeReject decodes an ILP Reject strictly; Data aliases b.
func DecodeReject(b []byte) (Reject, error) {
	var j Reject
	body, err := envelope(b, TypeReject)
	if err != nil {
		return j, err
	}
	r := oer.NewReader(body)
	code, err := r.Bytes(3)
	if err != nil {
		return j, fmt.Errorf("ILP Reject code: %w", err)
	}
	if j.Code, err = ParseCode(string(code)); err != nil {
		return j, fmt.Errorf("ILP Reject code: %w", err)
	}
	by, err := r.VarOctets(MaxAddressLength)
	if err != nil {
		return j, fmt.Errorf("ILP Reject triggeredBy: %w", err)
	}
	if len(by) > 0 {
		if err := ValidAddress(string(by)); err != nil {
			return j, fmt.Errorf("ILP Reject triggeredBy: %w", err)
		}
		j.TriggeredBy = string(by)
	}
	msg, err := r.VarOctets(MaxMessageLength)
	if err != nil {
		return j, fmt.Errorf("ILP Reject message: %w", err)
	}
	if !utf8.Valid(msg) {
		return j, errors.New("ILP Reject message is not valid UTF-8")
	}
	j.Message = string(msg)
	if j.Data, err = r.VarOctets(MaxDataLength); err != nil {
		return j, fmt.Errorf("ILP Reject data: %w", err)
	}
	if r.Remaining() != 0 {
		return j, fmt.Errorf("ILP Reject: %w (%d)", errTrailing, r.Remaining())
	}
	return j, nil
}

// Packet is a decoded Prepare, Fulfill or Reject, as returned by Decode.
type Packet interface {
	Type() Type
	AppendBinary(b []byte) ([]byte, error)
}

func (*Prepare) Type() Type { return TypePrepare }
func (*Fulfill) Type() Type { return TypeFulfill }
func (*Reject) Type() Type  { return TypeReject }

// Decode decodes any ILP packet. The hot path uses DecodePrepare and friends, which do not allocate an interface.
func Decode(b []byte) (Packet, error) {
	t, err := PacketType(b)
	if err != nil {
		return nil, err
	}
	switch t {
	case TypePrepare:
		p, err := DecodePrepare(b)
		if err != nil {
			return nil, err
		}
		return &p, nil
	case TypeFulfill:
		f, err := DecodeFulfill(b)
		if err != nil {
			return nil, err
		}
		return &f, nil
	default:
		j, err := DecodeReject(b)
		if err != nil {
			return nil, err
		}
		return &j, nil
	}
}

// errTrailing is wrapped when a buffer holds more than the packet.
var errTrailing = errors.New("trailing bytes after the packet")
