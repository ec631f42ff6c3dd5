package xrpseed

import (
	"strings"
	"testing"
)

// Vectors: the XRP Ledger's genesis account (seed of the passphrase "masterpassphrase") and ripple-keypairs'
// test fixtures (api.json), one secp256k1 and one ed25519 seed.
func TestClassicAddressMatchesKnownSeeds(t *testing.T) {
	for seed, want := range map[string]string{
		"snoPBrXtMeMyMHUVTgbuqAfg1SUTb":   "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh",
		"sp5fghtJtpUorTwvof1NpDXAzNwf5":   "rU6K7V3Po4snVhBBaU29sesqs2qTQJWDw1",
		"sEdSKaCy2JT7JaM7v95H9SxkhP9wS2r": "rLUEXYuLiQptky37CqLcm9USQpPiz5rkpD",
	} {
		got, err := ClassicAddress(seed)
		if err != nil || got != want {
			t.Errorf("ClassicAddress(%s…) = %q, %v; want %s", seed[:3], got, err, want)
		}
	}
}

func TestClassicAddressRefusesBadSeedsWithoutEchoingThem(t *testing.T) {
	for _, seed := range []string{
		"snoPBrXtMeMyMHUVTgbuqAfg1SUTbxy", // two extra characters
		"snoPBrXtMeMyMHUVTgbuqAfg1SUTc",   // one character changed: checksum
		"snoPBrXtMeMyMHUVTgbuqAfg1SUT0",   // 0 is not in the alphabet
		"rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh",
	} {
		_, err := ClassicAddress(seed)
		if err == nil {
			t.Errorf("seed %q accepted", seed)
			continue
		}
		if strings.Contains(err.Error(), seed[1:10]) {
			t.Errorf("error repeats the seed: %v", err)
		}
	}
}
