package main

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/stack/settings"
)

// An EVM development node whose .env was then edited by hand: a cache grid of its own and a stray key (which
// m2m refuses: v is the file without it).
func writeNodeToUpdate(t *testing.T) (path string, v settings.Values) {
	t.Helper()
	path = filepath.Join(t.TempDir(), ".env")
	key := writeSecretFile(t, "evm.key", "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
	res := runInit(t, strings.NewReader(""), "--yes", "--output", path, "--evm-address", testEVMAddress, "--evm-private-key-file", key)
	if res.code != 0 {
		t.Fatalf("first init: exit %d: %s", res.code, res.stderr)
	}
	v = loadWritten(t, path)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("TIGERBEETLE_CACHE_GRID=256MiB\nSOMETHING_ELSE=1\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	v[settings.TigerBeetleCacheGrid] = "256MiB"
	return path, v
}

// --update changes what it is told to and keeps the rest: the generated keys, password and cluster id (a ledger
// formatted with the old cluster id would not start with a new one), the secrets, the hand-made settings.
func TestInitUpdateKeepsKeysClusterIDAndTheRest(t *testing.T) {
	path, before := writeNodeToUpdate(t)
	res := runInit(t, strings.NewReader(""), "--yes", "--update", "--output", path, "--log-level", "debug")
	if res.code != 0 {
		t.Fatalf("init --update: exit %d: %s", res.code, res.stderr)
	}
	after := loadWritten(t, path)
	for _, name := range []string{settings.NodeID, settings.TigerBeetleClusterID, settings.GrafanaPassword, settings.NodePrivateKey,
		settings.EVMPrivateKey, settings.EVMAddress, settings.KeyBackend} {
		if after.String(name) != before.String(name) || after.String(name) == "" {
			t.Errorf("%s changed (or is empty) after --update", name)
		}
	}
	if after.String(settings.LogLevel) != "debug" || after.String(settings.TigerBeetleCacheGrid) != "256MiB" {
		t.Errorf("LOG_LEVEL=%s TIGERBEETLE_CACHE_GRID=%s, want debug (the flag) and 256MiB (kept)",
			after.String(settings.LogLevel), after.String(settings.TigerBeetleCacheGrid))
	}
	if !strings.Contains(res.stderr, "SOMETHING_ELSE") || !strings.Contains(res.stderr, "is not an m2m setting") {
		t.Errorf("the stray key is not named:\n%s", res.stderr)
	}
	if backups, _ := filepath.Glob(path + ".bak-*"); len(backups) != 1 {
		t.Errorf("backups %v, want one", backups)
	}
	assertNoSecretPrinted(t, after, res.printed())
	key, err := identity.ParsePrivateKey(before.String(settings.NodePrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	if pub := identity.EncodePublicKey(key.Public().(ed25519.PublicKey)); !strings.Contains(res.stdout, "public key "+pub) {
		t.Errorf("--update does not show the node's own public key %s:\n%s", pub, res.stdout)
	}

	// A backend that no longer reads the key from .env: the key leaves the file.
	res = runInit(t, strings.NewReader(""), "--yes", "--update", "--output", path, "--key-backend", "aws-kms",
		"--aws-region", "eu-west-1", "--aws-kms-evm-key-id", "alias/evm")
	if res.code != 0 {
		t.Fatalf("init --update --key-backend aws-kms: exit %d: %s", res.code, res.stderr)
	}
	if v := loadWritten(t, path); v.String(settings.EVMPrivateKey) != "" || v.String(settings.NodePrivateKey) != before.String(settings.NodePrivateKey) {
		t.Errorf("after moving the keys to KMS: EVM_PRIVATE_KEY still set=%v, node key kept=%v",
			v.String(settings.EVMPrivateKey) != "", v.String(settings.NodePrivateKey) == before.String(settings.NodePrivateKey))
	}
	if !strings.Contains(res.stderr, "EVM_PRIVATE_KEY is not used with these answers; it is removed") {
		t.Errorf("the removal of EVM_PRIVATE_KEY is not said:\n%s", res.stderr)
	}
}

// Line by line, --update offers every existing answer: Enter throughout writes the same node.
func TestInitUpdateOffersTheExistingAnswers(t *testing.T) {
	path, before := writeNodeToUpdate(t)
	lines := []string{"", "", "", "", "", "", "y", "", "", "", "", "", ""}
	//                id  tgt set evm rpc be  ok  mon btp hp  log dis sum
	res := runInit(t, linePipe(t, lines), "--update", "--output", path)
	if res.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "Press Enter to keep "+before.String(settings.NodeID)) ||
		!strings.Contains(res.stderr, "EVM_PRIVATE_KEY                (kept from the existing file, not shown)") {
		t.Errorf("the existing node id and kept key are not offered:\n%s", res.stderr)
	}
	if strings.Contains(res.stderr, doc(settings.EVMPrivateKey)) {
		t.Errorf("the kept key was asked for again")
	}
	after := loadWritten(t, path)
	for _, s := range settings.Schema() {
		if after.String(s.Name) != before.String(s.Name) {
			t.Errorf("%s changed although every answer was kept", s.Name)
		}
	}
}

func TestInitUpdateNeedsAReadableFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, ".env")
	res := runInit(t, strings.NewReader(""), "--yes", "--update", "--output", missing)
	if res.code != exitUsage || !strings.Contains(res.stderr, "--update starts from the existing "+missing+", and there is none") {
		t.Errorf("--update without a file: exit %d, stderr %q", res.code, res.stderr)
	}
	broken := filepath.Join(dir, "broken.env")
	if err := os.WriteFile(broken, []byte("NODE_ID=a\nthis is not a setting\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res = runInit(t, strings.NewReader(""), "--yes", "--update", "--output", broken)
	if res.code != exitUsage || !strings.Contains(res.stderr, "line 2: (syntax) is not KEY=VALUE") {
		t.Errorf("--update of a broken file: exit %d, stderr %q", res.code, res.stderr)
	}
}

func TestExistingReplicaPortIsKept(t *testing.T) {
	for _, tt := range []struct {
		addrs string
		want  int
	}{
		{"10.0.0.11:3001,10.0.0.12:3001,10.0.0.13:3001", 3001},
		{"", 3000},
		{"not-an-address", 3000},
	} {
		if got := existingReplicaPort(existing{settings.TigerBeetleReplicaAddresses: tt.addrs}, 3000); got != tt.want {
			t.Errorf("existingReplicaPort(%q) = %d, want %d", tt.addrs, got, tt.want)
		}
	}
}
