package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An XRP_SECRET that controls another account than XRP_ADDRESS is a warning naming the account it derives;
// one with two extra characters is refused.
func TestConfigChecksXRPSecretAgainstXRPAddress(t *testing.T) {
	base := "NODE_ID=m2m-abc123\nTIGERBEETLE_CLUSTER_ID=5\nGRAFANA_PASSWORD=long-enough-password\nSETTLEMENT_PREFERENCE=xrp\n" +
		"XRP_ADDRESS=rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh\n"
	const genesisSeed, otherSeed = "snoPBrXtMeMyMHUVTgbuqAfg1SUTb", "sp5fghtJtpUorTwvof1NpDXAzNwf5"
	for _, tc := range []struct {
		name, seed, want string
		code             int
	}{
		{"matching seed", genesisSeed, "", 0},
		{"seed of another account", otherSeed, "warning: XRP_SECRET derives the XRP account rU6K7V3Po4snVhBBaU29sesqs2qTQJWDw1, not XRP_ADDRESS=rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh", 0},
		{"two extra characters", genesisSeed + "ab", "XRP_SECRET", exitFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := filepath.Join(t.TempDir(), ".env")
			if err := os.WriteFile(env, []byte(base+"XRP_SECRET="+tc.seed+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			code, _, stderr := runDeploy(t, "config", "--env-file", env)
			if code != tc.code || (tc.want != "" && !strings.Contains(stderr, tc.want)) || (tc.want == "" && strings.Contains(stderr, "warning")) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, tc.code, tc.want)
			}
			if strings.Contains(stderr, tc.seed[2:12]) {
				t.Fatalf("stderr shows the seed:\n%s", stderr)
			}
		})
	}
}
