package settings

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"

	"golang.org/x/crypto/sha3"
)

// ValidateEVMAddress checks an EVM address: 0x and 40 hex digits and, when the digits are mixed-case, the
// EIP-55 checksum that the case encodes. All-lower or all-upper addresses carry no checksum and are accepted.
func ValidateEVMAddress(s string) error {
	if len(s) != 42 || (s[:2] != "0x" && s[:2] != "0X") {
		return errors.New("must be 0x followed by 40 hex digits")
	}
	digits := s[2:]
	if _, err := hex.DecodeString(digits); err != nil {
		return errors.New("must be 0x followed by 40 hex digits")
	}
	if digits == strings.ToLower(digits) || digits == strings.ToUpper(digits) {
		return nil
	}
	if digits != eip55(digits) {
		return errors.New("has a mixed-case EIP-55 checksum that does not match: check the address for a typo " +
			"(copy it from your wallet), or write it all in lower case to skip the check")
	}
	return nil
}

// eip55 returns the 40 hex digits with the EIP-55 case: a letter is upper-case when the matching nibble of
// Keccak-256 of the lower-case digits is 8 or more.
func eip55(digits string) string {
	lower := strings.ToLower(digits)
	h := sha3.NewLegacyKeccak256()
	h.Write([]byte(lower))
	sum := h.Sum(nil)
	out := []byte(lower)
	for i, c := range out {
		nibble := sum[i/2] >> 4
		if i%2 == 1 {
			nibble = sum[i/2] & 0x0f
		}
		if c >= 'a' && c <= 'f' && nibble >= 8 {
			out[i] = c - 'a' + 'A'
		}
	}
	return string(out)
}

// rippleAlphabet is base58 in the XRP Ledger's order: 'r' encodes 0, which is why classic addresses start with r.
const rippleAlphabet = "rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz"

// ValidateXRPAddress checks an XRP classic address: Ripple base58 of version byte 0, the 20-byte account id
// and the first 4 bytes of SHA-256(SHA-256(version+account id)).
func ValidateXRPAddress(s string) error {
	if strings.HasPrefix(s, "X") {
		return errors.New("is an X-address; give the classic address (starting with r) that your wallet also shows")
	}
	if len(s) < 25 || len(s) > 35 || s[0] != 'r' {
		return errors.New("must be an XRP classic address: r followed by 24-34 base58 characters")
	}
	raw, err := decodeRippleBase58(s)
	if err != nil {
		return err
	}
	if len(raw) != 25 || raw[0] != 0 {
		return errors.New("is not an XRP classic address (wrong length or version); copy it again from your wallet")
	}
	first := sha256.Sum256(raw[:21])
	second := sha256.Sum256(first[:])
	if !bytes.Equal(second[:4], raw[21:]) {
		return errors.New("has a checksum that does not match: check the address for a typo (copy it from your wallet)")
	}
	return nil
}

// decodeRippleBase58 decodes s; each leading 'r' (the zero digit) is one leading zero byte.
func decodeRippleBase58(s string) ([]byte, error) {
	n := new(big.Int)
	radix := big.NewInt(58)
	for i := 0; i < len(s); i++ {
		d := strings.IndexByte(rippleAlphabet, s[i])
		if d < 0 {
			return nil, errors.New("has " + quoteByte(s[i]) + ", which is not in the XRP base58 alphabet (no 0, O, I or l)")
		}
		n.Mul(n, radix)
		n.Add(n, big.NewInt(int64(d)))
	}
	zeros := 0
	for zeros < len(s) && s[zeros] == rippleAlphabet[0] {
		zeros++
	}
	return append(make([]byte, zeros), n.Bytes()...), nil
}

func quoteByte(b byte) string {
	if b < 0x20 || b > 0x7e {
		return "a non-printable character"
	}
	return "'" + string(b) + "'"
}
