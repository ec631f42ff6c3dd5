package identity

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestGeneratedKeyParsesBackToTheSamePublicKey(t *testing.T) {
	enc, pub, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := base64.StdEncoding.DecodeString(enc); len(raw) != ed25519.SeedSize {
		t.Fatalf("encoded private key is %d bytes, want the %d-byte seed", len(raw), ed25519.SeedSize)
	}
	priv, err := ParsePrivateKey(enc + "\n") // .env values may carry a newline
	if err != nil {
		t.Fatal(err)
	}
	if !priv.Public().(ed25519.PublicKey).Equal(pub) {
		t.Fatal("parsed private key belongs to another public key")
	}
	back, err := ParsePublicKey(EncodePublicKey(pub))
	if err != nil || !back.Equal(pub) {
		t.Fatalf("public key round trip: %v", err)
	}
	enc2, _, _ := GenerateKey()
	if enc2 == enc {
		t.Fatal("two generated keys are equal")
	}
}

func TestParsePrivateKeyRefusesBadValuesWithoutEchoingThem(t *testing.T) {
	seed16 := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	full64 := base64.StdEncoding.EncodeToString(make([]byte, 64))
	unpadded := base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdeX"))
	tests := []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"not base64", "s3cr3t-value!!", "not standard base64"},
		{"unpadded", unpadded[:len(unpadded)-1], "not standard base64"},
		{"too short", seed16, "16 bytes"},
		{"full private key instead of seed", full64, "64 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePrivateKey(tt.in)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "NODE_PRIVATE_KEY") {
				t.Errorf("error %q does not say %q and name the setting", err, tt.want)
			}
			if tt.in != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.in)) {
				t.Errorf("error echoes the secret: %q", err)
			}
		})
	}
}

func TestParsePublicKeyRefusesWrongLength(t *testing.T) {
	for _, in := range []string{"", "%%%", base64.StdEncoding.EncodeToString(make([]byte, 31))} {
		if _, err := ParsePublicKey(in); err == nil {
			t.Errorf("ParsePublicKey(%q) accepted", in)
		}
	}
}

func TestSignedMessageVerifiesOnlyForItsPurposeRegistryTimeAndBody(t *testing.T) {
	_, priv := mustKey(t)
	pub := priv.Public().(ed25519.PublicKey)
	_, other := mustKey(t)
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	body := []byte(`{"nodeId":"alice"}`)
	const origin = "https://registry.example:9000"
	ts, sig := SignMessage(priv, PurposeAnnounce, origin, now, body)
	w := Window{Past: 5 * time.Minute, Future: 30 * time.Second}

	tests := []struct {
		name            string
		pub             ed25519.PublicKey
		purpose, origin string
		ts, sig         string
		body            []byte
		now             time.Time
		want            error
	}{
		{"valid", pub, PurposeAnnounce, origin, ts, sig, body, now.Add(time.Minute), nil},
		{"origin in other case", pub, PurposeAnnounce, "HTTPS://Registry.example:9000", ts, sig, body, now, nil},
		{"other purpose", pub, PurposeDelete, origin, ts, sig, body, now, ErrBadMessageSig},
		{"other registry", pub, PurposeAnnounce, "https://other.example:9000", ts, sig, body, now, ErrBadMessageSig},
		{"one more space in the body", pub, PurposeAnnounce, origin, ts, sig, []byte(`{"nodeId":"alice" }`), now, ErrBadMessageSig},
		{"timestamp changed", pub, PurposeAnnounce, origin, "1795770000001", sig, body, time.UnixMilli(1795770000001), ErrBadMessageSig},
		{"other key", other.Public().(ed25519.PublicKey), PurposeAnnounce, origin, ts, sig, body, now, ErrBadMessageSig},
		{"stale", pub, PurposeAnnounce, origin, ts, sig, body, now.Add(6 * time.Minute), ErrStale},
		{"31 s in the future", pub, PurposeAnnounce, origin, ts, sig, body, now.Add(-31 * time.Second), ErrFromFuture},
		{"timestamp not a number", pub, PurposeAnnounce, origin, "yesterday", sig, body, now, ErrBadTimestamp},
		{"signature garbage", pub, PurposeAnnounce, origin, ts, "abc", body, now, ErrBadMessageSig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, err := VerifyMessage(tt.pub, tt.purpose, tt.origin, tt.ts, tt.sig, tt.body, tt.now, w)
			if tt.want == nil {
				if err != nil || !at.Equal(now) {
					t.Fatalf("got %v, %v; want %v", at, err, now)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), tt.sig) && tt.sig != "abc" {
				t.Errorf("error repeats the signature: %v", err)
			}
		})
	}
}

func mustKey(t *testing.T) (string, ed25519.PrivateKey) {
	t.Helper()
	enc, _, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParsePrivateKey(enc)
	if err != nil {
		t.Fatal(err)
	}
	return enc, priv
}
