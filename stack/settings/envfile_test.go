package settings_test

import (
	"os"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/stack/settings"
	"github.com/m2mnet/m2m/stack/settings/settingstest"
)

const validEnv = "NODE_ID=m2m-abc123\nTIGERBEETLE_CLUSTER_ID=7\nGRAFANA_PASSWORD=long-enough-password\n" +
	"EVM_ADDRESS=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\n"

// A .env saved by a Windows editor starts with a UTF-8 byte order mark; its first key still reads.
func TestLoadReadsAFileThatStartsWithAByteOrderMark(t *testing.T) {
	path := settingstest.WriteFile(t, t.TempDir(), ".env", "\ufeff"+validEnv)
	v, err := settings.Load(path)
	if err != nil {
		t.Fatalf("a .env with a BOM is refused: %v", err)
	}
	if v.String(settings.NodeID) != "m2m-abc123" {
		t.Fatalf("NODE_ID = %q; want m2m-abc123", v.String(settings.NodeID))
	}
}

func TestLoadWarnsWhenSecretsAreReadableByOthers(t *testing.T) {
	tests := []struct {
		name string
		mode os.FileMode
		warn bool
	}{
		{"0600 is quiet", 0o600, false},
		{"0644 warns", 0o644, true},
		{"0640 warns", 0o640, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := settingstest.WriteFile(t, t.TempDir(), ".env", validEnv)
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			_, notices, err := settings.LoadWithNotices(path)
			if err != nil {
				t.Fatalf("the file is refused; a loose mode must only warn: %v", err)
			}
			var got string
			for _, n := range notices {
				if strings.Contains(n.String(), "chmod 600") {
					got = n.String()
				}
			}
			if tc.warn != (got != "") {
				t.Fatalf("notices %v; want a chmod 600 warning: %v", notices, tc.warn)
			}
			if tc.warn && (!strings.Contains(got, "chmod 600 "+path) || !strings.Contains(got, settings.GrafanaPassword) ||
				strings.Contains(got, "long-enough-password")) {
				t.Errorf("warning %q; want the command with the path, the secret's name, never its value", got)
			}
		})
	}
}
