package settings

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/big"
	"strings"
)

// XRP family seed prefixes (the XRP Ledger's base58check version bytes): secp256k1 seeds start with s, ed25519
// ones with sEd.
var (
	xrpSeedPrefixSecp256k1 = []byte{0x21}
	xrpSeedPrefixEd25519   = []byte{0x01, 0xe1, 0x4b}
)

const xrpSeedEntropyLen = 16

// DecodeXRPSeed decodes an XRP family seed: base58check in the XRP alphabet of a version prefix (0x21, or
// 01 E1 4B for an ed25519 seed), 16 bytes of entropy and a 4-byte SHA-256d checksum. Its errors describe
// what is wrong without repeating any of the value, which is a secret.
func DecodeXRPSeed(s string) (entropy []byte, ed25519 bool, err error) {
	const shape = "must be an XRP family seed: s followed by 28 base58 characters (sEd… and 31 characters for an ed25519 seed), as your wallet shows it"
	if len(s) < 25 || len(s) > 35 || s[0] != 's' {
		return nil, false, errors.New(shape)
	}
	n := new(big.Int)
	for i := 0; i < len(s); i++ {
		d := strings.IndexByte(rippleAlphabet, s[i])
		if d < 0 {
			return nil, false, errors.New("has a character outside the XRP base58 alphabet (no 0, O, I or l); copy it again from your wallet")
		}
		n.Mul(n, big.NewInt(58))
		n.Add(n, big.NewInt(int64(d)))
	}
	raw := n.Bytes() // a seed never starts with the zero digit r: its first byte is a non-zero prefix
	if len(raw) < 4 {
		return nil, false, errors.New(shape)
	}
	body, sum := raw[:len(raw)-4], raw[len(raw)-4:]
	first := sha256.Sum256(body)
	second := sha256.Sum256(first[:])
	if !bytes.Equal(second[:4], sum) {
		return nil, false, errors.New("has a checksum that does not match: a character is wrong or missing; copy it again from your wallet")
	}
	switch {
	case len(body) == 1+xrpSeedEntropyLen && bytes.HasPrefix(body, xrpSeedPrefixSecp256k1):
		return body[1:], false, nil
	case len(body) == 3+xrpSeedEntropyLen && bytes.HasPrefix(body, xrpSeedPrefixEd25519):
		return body[3:], true, nil
	}
	return nil, false, errors.New("is base58check but not a family seed (wrong prefix or length): give the seed (s…), not a private key or an address")
}

func validXRPSeed(s string) error {
	_, _, err := DecodeXRPSeed(s)
	return err
}
