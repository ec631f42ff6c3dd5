// Package xrpseed derives the XRP classic address that a family seed (XRP_SECRET) controls, so that m2mctl can
// say when a seed and XRP_ADDRESS do not belong together. It runs on the operator's machine at config time
// only; the connector does not link it.
package xrpseed

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"math/big"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"golang.org/x/crypto/ripemd160" //nolint:staticcheck // RIPEMD-160 is what XRP account ids are made of.

	"github.com/m2mnet/m2m/stack/settings"
)

// ClassicAddress returns the classic address (r…) of the first account of seed, the one wallets show for it:
// for an ed25519 seed (sEd…) the key is SHA-512-half of the entropy; for a secp256k1 seed, the XRP Ledger's
// root key derivation with account index 0. Errors never repeat the seed.
func ClassicAddress(seed string) (string, error) {
	entropy, isEd25519, err := settings.DecodeXRPSeed(seed)
	if err != nil {
		return "", err
	}
	var pub []byte
	if isEd25519 {
		priv := sha512Half(entropy)
		pub = append([]byte{0xed}, ed25519.NewKeyFromSeed(priv).Public().(ed25519.PublicKey)...)
	} else {
		pub, err = secp256k1AccountKey(entropy)
		if err != nil {
			return "", err
		}
	}
	sha := sha256.Sum256(pub)
	h := ripemd160.New()
	h.Write(sha[:])
	return encodeAddress(h.Sum(nil)), nil
}

// secp256k1AccountKey is the compressed public key of account 0 of a secp256k1 family seed:
//
//	rootPriv  = first SHA-512-half(entropy ‖ seq32) in [1, n)
//	rootPub   = rootPriv·G, compressed
//	extra     = first SHA-512-half(rootPub ‖ 0u32 ‖ seq32) in [1, n)
//	accountPriv = rootPriv + extra mod n
func secp256k1AccountKey(entropy []byte) ([]byte, error) {
	root, err := scalarFrom(entropy)
	if err != nil {
		return nil, err
	}
	rootPub := secp256k1.NewPrivateKey(root).PubKey().SerializeCompressed()
	extra, err := scalarFrom(binary.BigEndian.AppendUint32(append([]byte{}, rootPub...), 0))
	if err != nil {
		return nil, err
	}
	var account secp256k1.ModNScalar
	account.Add2(root, extra)
	return secp256k1.NewPrivateKey(&account).PubKey().SerializeCompressed(), nil
}

// scalarFrom is the first SHA-512-half(prefix ‖ seq) (seq = 0, 1, …) that is a valid private key.
func scalarFrom(prefix []byte) (*secp256k1.ModNScalar, error) {
	for seq := uint32(0); seq < 1<<16; seq++ {
		h := sha512Half(binary.BigEndian.AppendUint32(append([]byte{}, prefix...), seq))
		var s secp256k1.ModNScalar
		if overflow := s.SetByteSlice(h); !overflow && !s.IsZero() {
			return &s, nil
		}
	}
	return nil, errors.New("no valid secp256k1 key derives from this seed")
}

func sha512Half(b []byte) []byte {
	sum := sha512.Sum512(b)
	return sum[:32]
}

const rippleAlphabet = "rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz"

// encodeAddress is base58check (XRP alphabet) of version 0 and the 20-byte account id.
func encodeAddress(accountID []byte) string {
	body := append([]byte{0}, accountID...)
	first := sha256.Sum256(body)
	second := sha256.Sum256(first[:])
	full := append(body, second[:4]...)
	n := new(big.Int).SetBytes(full)
	var out []byte
	radix, mod := big.NewInt(58), new(big.Int)
	for n.Sign() > 0 {
		n.DivMod(n, radix, mod)
		out = append(out, rippleAlphabet[mod.Int64()])
	}
	for _, b := range full {
		if b != 0 {
			break
		}
		out = append(out, rippleAlphabet[0])
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}
