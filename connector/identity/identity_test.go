package identity

import (
	"crypto/ed25519"
	"encoding/base64"
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

func TestSignedRequestVerifiesOnlyUnchangedAndFresh(t *testing.T) {
	_, priv := mustKey(t)
	pub := priv.Public().(ed25519.PublicKey)
	_, other := mustKey(t)
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	ts, sig := SignRequest(priv, "DELETE", "/api/v1/peers/alice", now)

	tests := []struct {
		name           string
		pub            ed25519.PublicKey
		method, path   string
		ts, sig        string
		now            time.Time
		ok             bool
		wantErrContain string
	}{
		{"valid", pub, "DELETE", "/api/v1/peers/alice", ts, sig, now.Add(time.Minute), true, ""},
		{"other path", pub, "DELETE", "/api/v1/peers/bob", ts, sig, now, false, "does not match"},
		{"other method", pub, "POST", "/api/v1/peers/alice", ts, sig, now, false, "does not match"},
		{"other key", other.Public().(ed25519.PublicKey), "DELETE", "/api/v1/peers/alice", ts, sig, now, false, "does not match"},
		{"stale", pub, "DELETE", "/api/v1/peers/alice", ts, sig, now.Add(6 * time.Minute), false, "away from this server's clock"},
		{"from the future", pub, "DELETE", "/api/v1/peers/alice", ts, sig, now.Add(-6 * time.Minute), false, "away from this server's clock"},
		{"timestamp not a number", pub, "DELETE", "/api/v1/peers/alice", "yesterday", sig, now, false, "not Unix milliseconds"},
		{"signature garbage", pub, "DELETE", "/api/v1/peers/alice", ts, "abc", now, false, "not standard base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, err := VerifyRequest(tt.pub, tt.method, tt.path, tt.ts, tt.sig, tt.now, 5*time.Minute)
			if tt.ok {
				if err != nil || !at.Equal(now) {
					t.Fatalf("got %v, %v; want %v", at, err, now)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErrContain) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErrContain)
			}
		})
	}
}

func TestBodySignatureCoversEveryByte(t *testing.T) {
	_, priv := mustKey(t)
	pub := priv.Public().(ed25519.PublicKey)
	body := []byte(`{"nodeId":"alice"}`)
	sig := SignBody(priv, body)
	if err := VerifyBody(pub, body, sig); err != nil {
		t.Fatal(err)
	}
	if err := VerifyBody(pub, []byte(`{"nodeId":"alice" }`), sig); err == nil {
		t.Fatal("a body with one more space verified")
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
