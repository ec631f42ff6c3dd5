package settings

import (
	"strings"
	"testing"
)

func TestXRPSecretIsDecodedAsAFamilySeed(t *testing.T) {
	for _, ok := range []string{"snoPBrXtMeMyMHUVTgbuqAfg1SUTb", "sEdSKaCy2JT7JaM7v95H9SxkhP9wS2r"} {
		if err := validXRPSeed(ok); err != nil {
			t.Errorf("%s…: %v", ok[:3], err)
		}
	}
	for _, tc := range []struct{ name, seed, want string }{
		{"two extra characters", "snoPBrXtMeMyMHUVTgbuqAfg1SUTbab", "checksum"},
		{"one character changed", "snoPBrXtMeMyMHUVTgbuqAfg1SUTc", "checksum"},
		{"not in the alphabet", "snoPBrXtMeMyMHUVTgbuqAfg1SUT0", "alphabet"},
		{"an address", "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh", "family seed"},
		{"too short", "sabc", "family seed"},
		{"an account secret key in hex", "s" + strings.Repeat("1", 30), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validXRPSeed(tc.seed)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
			if len(tc.seed) > 8 && strings.Contains(err.Error(), tc.seed[1:8]) {
				t.Fatalf("error repeats the secret: %v", err)
			}
		})
	}
}
