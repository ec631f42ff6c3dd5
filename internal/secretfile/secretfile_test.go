package secretfile

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealedFileOpensOnlyWithItsPassphraseAndUnchanged(t *testing.T) {
	pass, body := []byte("correct horse battery staple\n"), []byte("EVM_PRIVATE_KEY=0xsecret\n")
	sealed, err := Seal(pass, body)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("0xsecret")) {
		t.Fatal("the sealed file holds the secret in clear")
	}
	if got, err := Open([]byte("correct horse battery staple"), sealed); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("Open with the passphrase (trailing newline trimmed): %q, %v", got, err)
	}
	if _, err := Open([]byte("wrong horse battery staple"), sealed); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("Open with another passphrase: %v, want ErrWrongPassphrase", err)
	}
	changed := bytes.Clone(sealed)
	changed[len(changed)-1] ^= 1
	if _, err := Open(pass, changed); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("Open of a changed file: %v, want ErrWrongPassphrase", err)
	}
	if _, err := Seal([]byte("short"), body); !errors.Is(err, ErrShortPassphrase) {
		t.Errorf("Seal with a short passphrase: %v", err)
	}
	if _, err := Open(pass, body); err == nil {
		t.Error("Open of a file that was never sealed succeeded")
	}
}
