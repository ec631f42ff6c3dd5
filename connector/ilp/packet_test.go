package ilp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/oer"
)

// prepareVector is FACTS.md's (and the interledger reference implementation's) Prepare test vector.
const prepareVector = "0c68000000000000006b323031373132323330313231343035343974e1136dc71c9e5f283bec83461cbf1261c4014f72d48f8dd65453a0b84e7de10d6578616d706c652e616c696365205db343fdc41898f6df4202329139dc242dd0f558a811b46b28918fdab37c6cb0"

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodePrepareVector(t *testing.T) {
	raw := mustHex(t, prepareVector)
	p, err := DecodePrepare(raw)
	if err != nil {
		t.Fatal(err)
	}
	if p.Amount != 107 {
		t.Errorf("amount = %d, want 107", p.Amount)
	}
	if want := time.Date(2017, 12, 23, 1, 21, 40, 549e6, time.UTC); !p.ExpiresAt.Equal(want) {
		t.Errorf("expiresAt = %s, want %s", p.ExpiresAt, want)
	}
	if p.Destination != "example.alice" {
		t.Errorf("destination = %q", p.Destination)
	}
	if got := hex.EncodeToString(p.ExecutionCondition[:]); got != prepareVector[2*(2+8+17):2*(2+8+17+32)] {
		t.Errorf("condition = %s", got)
	}
	if len(p.Data) != 32 {
		t.Errorf("data is %d bytes, want 32", len(p.Data))
	}
	out, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, raw) {
		t.Errorf("re-encoded\n%x\nwant\n%x", out, raw)
	}
}

func TestRoundTripKeepsEveryField(t *testing.T) {
	big := bytes.Repeat([]byte{7}, MaxDataLength) // needs the 3-byte length form
	tests := []struct {
		name string
		pkt  Packet
	}{
		{"prepare with max data", &Prepare{Amount: 1<<64 - 1, ExpiresAt: time.Date(2030, 2, 28, 23, 59, 59, 999e6, time.UTC), Destination: "g.a.b-c_d~e", Data: big}},
		{"prepare with 200 bytes data (2-byte length)", &Prepare{Amount: 0, ExpiresAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), Destination: "test.x", Data: bytes.Repeat([]byte{1}, 200)}},
		{"fulfill", &Fulfill{Fulfillment: [32]byte{1, 2, 3}, Data: []byte("hi")}},
		{"reject with F08 data", &Reject{Code: F08AmountTooLarge, TriggeredBy: "g.conn", Message: "too much ✓", Data: AmountTooLargeData(10, 5)}},
		{"reject with empty triggeredBy and app code", &Reject{Code: "F42"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := tt.pkt.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			again, err := got.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, again) {
				t.Fatalf("round trip changed the bytes")
			}
			if got.Type() != tt.pkt.Type() {
				t.Fatalf("type %s, want %s", got.Type(), tt.pkt.Type())
			}
		})
	}
}

func TestDecodeRefusesMalformed(t *testing.T) {
	valid := mustHex(t, prepareVector)
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), valid...)) }
	tests := []struct {
		name, wantErr string
		in            []byte
	}{
		{"empty", "empty", nil},
		{"unknown type", "type 9 is unknown", []byte{9, 0}},
		{"truncated body", "truncated", valid[:50]},
		{"trailing byte", "trailing", append(append([]byte(nil), valid...), 0)},
		{"non-minimal length", "not minimal", []byte{12, 0x81, 0x05, 1, 2, 3, 4, 5}},
		{"4-byte length", "not supported", []byte{12, 0x84, 1, 0, 0, 0}},
		{"bad month", "not a valid UTC time", mutate(func(b []byte) []byte { b[2+8+4] = '1'; b[2+8+5] = '3'; return b })},
		{"february 30", "does not exist", mutate(func(b []byte) []byte { copy(b[2+8:], "20170230"); return b })},
		{"letter in timestamp", "non-digit", mutate(func(b []byte) []byte { b[2+8] = 'x'; return b })},
		{"bad destination", "scheme", mutate(func(b []byte) []byte { b[2+8+17+32+1] = 'z'; return b })},
		{"fulfill as prepare", "want a Prepare", []byte{13, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodePrepare(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeRejectRefusesBadCodeAndMessage(t *testing.T) {
	for _, tt := range []struct {
		name, wantErr string
		j             Reject
	}{
		{"lowercase code", "two digits", Reject{Code: "f02"}},
		{"invalid utf8", "UTF-8", Reject{Code: F00BadRequest, Message: "\xff"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.j.MarshalBinary(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("encode err = %v, want %q", err, tt.wantErr)
			}
			body := append([]byte(tt.j.Code), 0)
			body = oer.AppendVar(body, tt.j.Message)
			body = append(body, 0)
			raw := append(oer.AppendLength([]byte{14}, len(body)), body...)
			if _, err := DecodeReject(raw); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("decode err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestF08DataRoundTrip(t *testing.T) {
	r, m, err := ParseAmountTooLarge(AmountTooLargeData(1000, 999))
	if err != nil || r != 1000 || m != 999 {
		t.Fatalf("got %d, %d, %v", r, m, err)
	}
	if _, _, err := ParseAmountTooLarge([]byte{1}); err == nil {
		t.Fatal("1-byte F08 data accepted")
	}
}

func TestFulfills(t *testing.T) {
	pre := [32]byte{9}
	cond := sha256.Sum256(pre[:])
	if !Fulfills(pre, cond) {
		t.Fatal("preimage does not fulfil its own hash")
	}
	if Fulfills([32]byte{8}, cond) {
		t.Fatal("wrong preimage fulfils")
	}
}

func TestValidAddress(t *testing.T) {
	tests := []struct {
		addr    string
		wantErr string
	}{
		{"g.alice", ""},
		{"test3.a.b~c_d-e.0", ""},
		{"private.x", ""},
		{"", "empty"},
		{"g", "at least one segment"},
		{"g.", "at least one segment"},
		{"g.alice.", "empty segment"},
		{"g..alice", "empty segment"},
		{"G.alice", "scheme"},
		{"h.alice", "scheme"},
		{"g.al ice", "contains"},
		{"g." + strings.Repeat("a", 1022), "at most 1023"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := ValidAddress(tt.addr)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestAppendWithExpiryChangesOnlyTheExpiry(t *testing.T) {
	raw := mustHex(t, prepareVector)
	want := time.Date(2031, 5, 6, 7, 8, 9, 10e6, time.UTC)
	out, err := AppendWithExpiry([]byte("xx"), raw, want)
	if err != nil {
		t.Fatal(err)
	}
	if string(out[:2]) != "xx" {
		t.Fatal("dst prefix overwritten")
	}
	p, err := DecodePrepare(out[2:])
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := DecodePrepare(raw)
	if !p.ExpiresAt.Equal(want) || p.Amount != orig.Amount || p.Destination != orig.Destination ||
		p.ExecutionCondition != orig.ExecutionCondition || !bytes.Equal(p.Data, orig.Data) {
		t.Fatalf("patched packet %+v", p)
	}
	if _, err := AppendWithExpiry(nil, []byte{13, 1, 0}, want); err == nil {
		t.Fatal("patched a Fulfill")
	}
}
