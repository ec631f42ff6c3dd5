package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/connector/identity"
)

// BTP_TLS=off with a public ws:// announce address is allowed, with a warning naming the fix; a private
// address, a wss:// one (a TLS proxy's) or TLS on are not warned about.
func TestConfigWarnsOfAPublicPlainAnnounceAddress(t *testing.T) {
	base := "NODE_ID=m2m-abc123\nTIGERBEETLE_CLUSTER_ID=5\nGRAFANA_PASSWORD=long-enough-password\n" +
		"EVM_ADDRESS=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\nPEER_DISCOVERY_ENABLED=true\nPEER_DISCOVERY_ENDPOINTS=https://d.example.com\n"
	key, _, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	base += "NODE_PRIVATE_KEY=" + key + "\n"
	const warning = "warning: PEER_ANNOUNCE_ADDRESS=ws://node.example.com:4000 is public and BTP_TLS=off"
	for _, tc := range []struct {
		name, env string
		warn      bool
	}{
		{"public ws:// with TLS off", "PEER_ANNOUNCE_ADDRESS=ws://node.example.com:4000\nBTP_TLS=off\n", true},
		{"private ws:// with TLS off", "PEER_ANNOUNCE_ADDRESS=ws://10.0.0.7:4000\nBTP_TLS=off\nPEER_DISCOVERY_ALLOW_PRIVATE=true\n", false},
		{"wss:// through a proxy", "PEER_ANNOUNCE_ADDRESS=wss://node.example.com\nBTP_TLS=off\n", false},
		{"TLS on", "PEER_ANNOUNCE_ADDRESS=wss://node.example.com:4000\nBTP_TLS=acme\nBTP_DOMAIN=node.example.com\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := filepath.Join(t.TempDir(), ".env")
			if err := os.WriteFile(env, []byte(base+tc.env), 0o600); err != nil {
				t.Fatal(err)
			}
			code, _, stderr := runDeploy(t, "config", "--env-file", env)
			if code != 0 || strings.Contains(stderr, warning) != tc.warn {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit 0 and the warning: %v", code, stderr, tc.warn)
			}
			if tc.warn && !strings.Contains(stderr, "set BTP_TLS=acme and BTP_DOMAIN=node.example.com") {
				t.Errorf("the warning does not say what to set:\n%s", stderr)
			}
		})
	}
}

// A node that gets its certificate itself is told which name to point here and which ports to open.
func TestInitWithACMESaysWhichPortsToOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	res := runInit(t, strings.NewReader(""), "--yes", "--output", path, "--evm-address", testEVMAddress, "--discovery", "on",
		"--discovery-endpoints", "https://d1.example.com", "--domain", "edge.example.com", "--btp-port", "4100")
	if res.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
	}
	if want := "point edge.example.com at this host (a DNS A/AAAA record) and open TCP ports 4100 and 443"; !strings.Contains(res.stdout, want) {
		t.Errorf("next steps do not say %q:\n%s", want, res.stdout)
	}
}
