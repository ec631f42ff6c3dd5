// Package btp speaks the Bilateral Transfer Protocol 2.0 (RFC 0023) over WebSocket: the codec, an
// authenticating server, a reconnecting client, and sessions that carry ILP packets between two peers.
package btp

import (
	"errors"
	"fmt"
	"time"

	"github.com/m2mnet/m2m/connector/oer"
)

// Type is the first byte of a BTP packet.
type Type uint8

// BTP 2.0 packet types. Prepare (3), Fulfill (4) and Reject (5) belonged to BTP 1 and are not accepted.
const (
	TypeResponse Type = 1
	TypeError    Type = 2
	TypeMessage  Type = 6
	TypeTransfer Type = 7
)

func (t Type) String() string {
	switch t {
	case TypeResponse:
		return "Response"
	case TypeError:
		return "Error"
	case TypeMessage:
		return "Message"
	case TypeTransfer:
		return "Transfer"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// ContentType says how to read a protocol data entry.
type ContentType uint8

// The content types of RFC 0023.
const (
	OctetStream ContentType = 0
	TextPlain   ContentType = 1
	JSON        ContentType = 2
)

// ProtocolData is one entry of a packet's protocol data. Data aliases the decoded buffer.
type ProtocolData struct {
	Name        string
	ContentType ContentType
	Data        []byte
}

// ErrorInfo is the head of a BTP Error packet.
type ErrorInfo struct {
	Code        string // three characters, e.g. F00
	Name        string // e.g. NotAcceptedError
	TriggeredAt time.Time
	Data        []byte
}

// Packet is a decoded BTP packet. Amount is set for Transfer, Error for Error.
type Packet struct {
	Type         Type
	RequestID    uint32
	Amount       uint64
	Error        ErrorInfo
	ProtocolData []ProtocolData
}

// Entry returns the first protocol data entry called name.
func (p *Packet) Entry(name string) (ProtocolData, bool) {
	for _, d := range p.ProtocolData {
		if d.Name == name {
			return d, true
		}
	}
	return ProtocolData{}, false
}

// generalizedTime is how BTP Errors carry triggeredAt (the reference implementation's layout).
const generalizedTime = "20060102150405.000Z"

// Decode decodes b strictly into p, reusing p's ProtocolData slice. Names and data alias b.
func (p *Packet) Decode(b []byte) error {
	*p = Packet{ProtocolData: p.ProtocolData[:0]}
	if len(b) < 5 {
		return fmt.Errorf("BTP packet is %d bytes, shorter than its 5-byte header", len(b))
	}
	p.Type = Type(b[0])
	p.RequestID = uint32(b[1])<<24 | uint32(b[2])<<16 | uint32(b[3])<<8 | uint32(b[4])
	switch p.Type {
	case TypeResponse, TypeError, TypeMessage, TypeTransfer:
	default:
		return fmt.Errorf("BTP packet type %d is not a BTP 2.0 type (1, 2, 6 or 7)", b[0])
	}
	r := oer.Reader{B: b, Off: 5}
	body, err := r.VarOctets(len(b))
	if err != nil {
		return fmt.Errorf("BTP %s body: %w", p.Type, err)
	}
	if r.Remaining() != 0 {
		return fmt.Errorf("BTP %s: %d trailing bytes after the body", p.Type, r.Remaining())
	}
	r = oer.NewReader(body)
	switch p.Type {
	case TypeTransfer:
		if p.Amount, err = r.Uint64(); err != nil {
			return fmt.Errorf("BTP Transfer amount: %w", err)
		}
	case TypeError:
		if err := p.Error.decode(&r); err != nil {
			return fmt.Errorf("BTP Error: %w", err)
		}
	}
	if err := p.decodeProtocolData(&r); err != nil {
		return fmt.Errorf("BTP %s protocol data: %w", p.Type, err)
	}
	if r.Remaining() != 0 {
		return fmt.Errorf("BTP %s: %d trailing bytes after the protocol data", p.Type, r.Remaining())
	}
	return nil
}

func (e *ErrorInfo) decode(r *oer.Reader) error {
	code, err := r.Bytes(3)
	if err != nil {
		return fmt.Errorf("code: %w", err)
	}
	for _, c := range code {
		if c < 0x20 || c > 0x7e {
			return fmt.Errorf("code %q is not printable ASCII", code)
		}
	}
	e.Code = string(code)
	name, err := r.VarOctets(256)
	if err != nil {
		return fmt.Errorf("name: %w", err)
	}
	if !printableASCII(name) {
		return fmt.Errorf("name %q is not printable ASCII", name)
	}
	e.Name = string(name)
	at, err := r.VarOctets(64)
	if err != nil {
		return fmt.Errorf("triggeredAt: %w", err)
	}
	if e.TriggeredAt, err = time.Parse(generalizedTime, string(at)); err != nil {
		return fmt.Errorf("triggeredAt %q is not YYYYMMDDHHmmss.fffZ", at)
	}
	if e.Data, err = r.VarOctets(r.Remaining()); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return nil
}

func (p *Packet) decodeProtocolData(r *oer.Reader) error {
	n, err := r.VarUint()
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	// Every entry takes at least 3 bytes, so a count beyond that is a lie and must not size an allocation.
	if n > uint64(r.Remaining()/3) {
		return fmt.Errorf("count %d does not fit in %d bytes", n, r.Remaining())
	}
	for i := range int(n) {
		name, err := r.VarOctets(r.Remaining())
		if err != nil {
			return fmt.Errorf("entry %d name: %w", i, err)
		}
		if !printableASCII(name) {
			return fmt.Errorf("entry %d name %q is not printable ASCII", i, name)
		}
		ct, err := r.Byte()
		if err != nil {
			return fmt.Errorf("entry %d content type: %w", i, err)
		}
		data, err := r.VarOctets(r.Remaining())
		if err != nil {
			return fmt.Errorf("entry %d (%s) data: %w", i, name, err)
		}
		p.ProtocolData = append(p.ProtocolData, ProtocolData{Name: internName(name), ContentType: ContentType(ct), Data: data})
	}
	return nil
}

// internName returns the common protocol names without allocating.
func internName(b []byte) string {
	switch string(b) {
	case "ilp":
		return "ilp"
	case "auth":
		return "auth"
	case "auth_token":
		return "auth_token"
	case "auth_username":
		return "auth_username"
	}
	return string(b)
}

func printableASCII[T ~string | ~[]byte](b T) bool {
	for i := range len(b) {
		if b[i] < 0x20 || b[i] > 0x7e {
			return false
		}
	}
	return true
}

// appendILP encodes a Message or Response whose only protocol data is the ILP packet: what every forwarded
// packet costs, so it skips building a Packet.
func appendILP(b []byte, t Type, id uint32, ilpPacket []byte) []byte {
	n := 2 + 1 + 3 + 1 + oer.LengthSize(len(ilpPacket)) + len(ilpPacket) // count, "ilp", content type, data
	b = append(b, byte(t), byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
	b = oer.AppendLength(b, n)
	b = append(b, 1, 1, 3, 'i', 'l', 'p', byte(OctetStream))
	b = oer.AppendLength(b, len(ilpPacket))
	return append(b, ilpPacket...)
}

// AppendBinary appends the encoding of p to b.
func (p *Packet) AppendBinary(b []byte) ([]byte, error) {
	n, err := p.bodySize()
	if err != nil {
		return b, err
	}
	b = append(b, byte(p.Type), byte(p.RequestID>>24), byte(p.RequestID>>16), byte(p.RequestID>>8), byte(p.RequestID))
	b = oer.AppendLength(b, n)
	switch p.Type {
	case TypeTransfer:
		b = oer.AppendUint64(b, p.Amount)
	case TypeError:
		b = append(b, p.Error.Code...)
		b = oer.AppendVar(b, p.Error.Name)
		b = oer.AppendVar(b, p.Error.TriggeredAt.UTC().Format(generalizedTime))
		b = oer.AppendVar(b, p.Error.Data)
	}
	b = oer.AppendVarUint(b, uint64(len(p.ProtocolData)))
	for _, d := range p.ProtocolData {
		b = oer.AppendVar(b, d.Name)
		b = append(b, byte(d.ContentType))
		b = oer.AppendVar(b, d.Data)
	}
	return b, nil
}

// bodySize checks what the decoder would refuse and returns the body length.
func (p *Packet) bodySize() (int, error) {
	n := 0
	switch p.Type {
	case TypeResponse, TypeMessage:
	case TypeTransfer:
		n += 8
	case TypeError:
		if len(p.Error.Code) != 3 || !printableASCII(p.Error.Code) || !printableASCII(p.Error.Name) || len(p.Error.Name) > 256 {
			return 0, fmt.Errorf("encode BTP Error: code %q must be 3 printable ASCII characters and the name printable ASCII", p.Error.Code)
		}
		if y := p.Error.TriggeredAt.UTC().Year(); y < 0 || y > 9999 {
			return 0, fmt.Errorf("encode BTP Error: triggeredAt %s is out of range", p.Error.TriggeredAt)
		}
		n += 3 + oer.VarSize(len(p.Error.Name)) + oer.VarSize(len(generalizedTime)) + oer.VarSize(len(p.Error.Data))
	default:
		return 0, fmt.Errorf("encode BTP: type %d is not a BTP 2.0 type", p.Type)
	}
	n += oer.VarUintSize(uint64(len(p.ProtocolData)))
	for _, d := range p.ProtocolData {
		if !printableASCII(d.Name) {
			return 0, fmt.Errorf("encode BTP: protocol name %q is not printable ASCII", d.Name)
		}
		n += oer.VarSize(len(d.Name)) + 1 + oer.VarSize(len(d.Data))
	}
	if n > maxEncodable {
		return 0, errors.New("encode BTP: packet larger than 16 MiB")
	}
	return n, nil
}

const maxEncodable = 1<<24 - 1
