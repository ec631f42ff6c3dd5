// Package settingstest provides settings fixtures for tests of the packages that read a node's settings.
package settingstest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/m2mnet/m2m/stack/settings"
)

// Sample is a complete, valid configuration with a value for every secret, so tests can check none leaks.
func Sample() map[string]string {
	return map[string]string{
		settings.NodeID:               "m2m-abc123",
		settings.EVMAddress:           "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		settings.EVMPrivateKey:        "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
		settings.TigerBeetleClusterID: "340282366920938463463374607431768211455",
		settings.GrafanaPassword:      "s3cret-grafana-password-XYZ",
		settings.NodePrivateKey:       "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=",
	}
}

// WriteFile writes body to dir/name with mode 0600 and returns the path.
func WriteFile(t testing.TB, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
