// Package secretfile encrypts a small file (the node's .env) with a passphrase: scrypt for the key, AES-256-GCM
// for the body, so that a backup may carry the secrets without carrying them readable.
package secretfile

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/scrypt"
)

// magic starts every sealed file and names its format; it is authenticated with the body.
const magic = "m2m-secretfile/1\n"

// scrypt parameters: the ones its documentation recommends for interactive use in 2017, still above them.
const (
	scryptN, scryptR, scryptP = 1 << 15, 8, 1
	saltSize                  = 16
)

// ErrWrongPassphrase is returned by Open when the passphrase is wrong or the file was changed.
var ErrWrongPassphrase = errors.New("wrong passphrase, or the file was changed")

// ErrShortPassphrase: a passphrase under MinPassphrase bytes is refused.
var ErrShortPassphrase = errors.New("passphrase too short")

// MinPassphrase is the shortest passphrase Seal accepts.
const MinPassphrase = 12

// Seal encrypts plaintext under passphrase.
func Seal(passphrase, plaintext []byte) ([]byte, error) {
	if len(bytes.TrimSpace(passphrase)) < MinPassphrase {
		return nil, fmt.Errorf("%w: give at least %d characters", ErrShortPassphrase, MinPassphrase)
	}
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	aead, err := newAEAD(passphrase, salt)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte(magic), salt...)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, []byte(magic)), nil
}

// Open decrypts what Seal wrote.
func Open(passphrase, sealed []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(sealed, []byte(magic))
	if !ok || len(rest) < saltSize {
		return nil, errors.New("not a sealed file (" + magic[:len(magic)-1] + ")")
	}
	aead, err := newAEAD(passphrase, rest[:saltSize])
	if err != nil {
		return nil, err
	}
	rest = rest[saltSize:]
	if len(rest) < aead.NonceSize() {
		return nil, ErrWrongPassphrase
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], []byte(magic))
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	return plain, nil
}

func newAEAD(passphrase, salt []byte) (cipher.AEAD, error) {
	key, err := scrypt.Key(bytes.TrimSpace(passphrase), salt, scryptN, scryptR, scryptP, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
