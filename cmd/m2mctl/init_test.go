package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/m2mnet/m2m/stack"
)

const (
	testEVMAddress = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
	testXRPAddress = "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh"
	// The example key of the web3 documentation and the XRPL "masterpassphrase" seed: public, test only.
	testEVMKey  = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
	testXRPSeed = "snoPBrXtMeMyMHUVTgbuqAfg1SUTb"
)

// initResult is what one run of `m2mctl init` did.
type initResult struct {
	code           int
	stdout, stderr string
}

func (r initResult) printed() string { return r.stdout + r.stderr }

// runInit runs `m2mctl init args…` with streams that are not terminals, reading in.
func runInit(t *testing.T, in io.Reader, args ...string) initResult {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := &ioStreams{In: in, Out: &out, ErrOut: &errOut}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, streams, append([]string{"init"}, args...))
	return initResult{code: code, stdout: out.String(), stderr: errOut.String()}
}

func writeSecretFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadWritten checks the file init wrote: mode 0600, loads through stack.Load, generated values well made.
func loadWritten(t *testing.T, path string) settings.Values {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("init wrote no %s: %v", path, err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("%s has mode %o, want 0600", path, mode)
	}
	v, err := settings.Load(path)
	if err != nil {
		t.Fatalf("stack.Load of the written file: %v", err)
	}
	// Plain `docker compose` next to the .env needs what the stack bind-mounts.
	for _, want := range []string{"templates/prometheus/prometheus.yml", "templates/grafana/provisioning", stack.ConfigDir} {
		if _, err := os.Stat(filepath.Join(filepath.Dir(path), want)); err != nil {
			t.Errorf("init did not prepare %s next to the .env: %v", want, err)
		}
	}
	cluster, ok := new(big.Int).SetString(v.String(settings.TigerBeetleClusterID), 10)
	if !ok || cluster.Sign() <= 0 || cluster.BitLen() > 128 {
		t.Errorf("TIGERBEETLE_CLUSTER_ID is not a non-zero 128-bit decimal")
	}
	if n := len(v.String(settings.GrafanaPassword)); n < 24 {
		t.Errorf("GRAFANA_PASSWORD has %d characters, want at least 24", n)
	}
	seed, err := base64.StdEncoding.DecodeString(v.String(settings.NodePrivateKey))
	if err != nil || len(seed) != 32 {
		t.Errorf("NODE_PRIVATE_KEY is not padded base64 of 32 bytes (%d bytes, %v)", len(seed), err)
	}
	return v
}

// assertNoSecretPrinted fails if any secret of v appears in what the command printed.
func assertNoSecretPrinted(t *testing.T, v settings.Values, printed string) {
	t.Helper()
	for _, s := range settings.Schema() {
		if (s.Secret || s.Generated) && v.String(s.Name) != "" && strings.Contains(printed, v.String(s.Name)) {
			t.Errorf("the value of %s was printed", s.Name)
		}
	}
}

func TestInitScriptedWritesAPrivateFileThatLoads(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		want   map[string]string
		stderr string
	}{
		{
			name: "evm with the key in .env",
			args: []string{"--node-id", "alice-node", "--evm-address", testEVMAddress,
				"--evm-private-key-file", writeSecretFile(t, "evm.key", testEVMKey), "--btp-port", "4100", "--log-level", "debug"},
			want: map[string]string{settings.NodeID: "alice-node", settings.EVMAddress: testEVMAddress, settings.EVMPrivateKey: testEVMKey,
				settings.KeyBackend: "env", settings.BTPPort: "4100", settings.LogLevel: "debug", settings.PrometheusEnabled: "true"},
			stderr: "WARNING: KEY_BACKEND=env",
		},
		{
			name: "both chains, keys in .env, discovery on, monitoring off",
			args: []string{"--settlement", "both", "--evm-address", strings.ToLower(testEVMAddress), "--xrp-address", testXRPAddress,
				"--evm-private-key-file", writeSecretFile(t, "evm.key", testEVMKey), "--xrp-secret-file", writeSecretFile(t, "xrp.seed", testXRPSeed),
				"--monitoring", "off", "--discovery", "on", "--discovery-endpoints", "https://d1.example.com, https://d2.example.com",
				"--announce-address", "wss://node.example.com:4000"},
			want: map[string]string{settings.SettlementPreference: "both", settings.XRPAddress: testXRPAddress, settings.XRPSecret: testXRPSeed,
				settings.PrometheusEnabled: "false", settings.PeerDiscoveryEnabled: "true",
				settings.PeerDiscoveryEndpoints: "https://d1.example.com, https://d2.example.com",
				// TLS follows: acme for the announce address's name.
				settings.BTPTLS: "acme", settings.BTPDomain: "node.example.com"},
		},
		{
			name: "discovery with a public name: the announce address follows it",
			args: []string{"--evm-address", testEVMAddress, "--discovery", "on", "--discovery-endpoints", "https://d1.example.com",
				"--domain", "edge.example.com", "--btp-port", "4100"},
			want: map[string]string{settings.BTPTLS: "acme", settings.BTPDomain: "edge.example.com",
				settings.PeerAnnounceAddress: "wss://edge.example.com:4100"},
		},
		{
			name: "discovery on a private network announcing ws:// keeps TLS off",
			args: []string{"--evm-address", testEVMAddress, "--discovery", "on", "--discovery-endpoints", "http://10.0.0.5:9000",
				"--announce-address", "ws://10.0.0.7:4000"},
			want: map[string]string{settings.BTPTLS: "off", settings.BTPDomain: "", settings.PeerAnnounceAddress: "ws://10.0.0.7:4000"},
		},
		{
			name: "xrp with azure key vault",
			args: []string{"--settlement", "xrp", "--xrp-address", testXRPAddress, "--key-backend", "azure-kv",
				"--azure-key-vault-url", "https://v.vault.azure.net", "--azure-xrp-key-name", "node",
				"--azure-tenant-id", "11111111-2222-3333-4444-555555555555", "--azure-client-id", "11111111-2222-3333-4444-666666666666",
				"--azure-client-secret-file", writeSecretFile(t, "azure", "a secret with # and spaces"),
				"--evm-address", testEVMAddress}, // not used: the node settles on XRP only
			want: map[string]string{settings.KeyBackend: "azure-kv", settings.AzureXRPKeyName: "node", settings.AzureClientSecret: "a secret with # and spaces",
				settings.EVMAddress: ""},
			stderr: "--evm-address is not used",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".env")
			res := runInit(t, strings.NewReader(""), append([]string{"--yes", "--output", path}, tt.args...)...)
			if res.code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", res.code, res.stderr)
			}
			v := loadWritten(t, path)
			if !strings.Contains(res.stderr, tt.stderr) {
				t.Errorf("stderr does not say %q:\n%s", tt.stderr, res.stderr)
			}
			if warned := strings.Contains(res.stderr, "WARNING"); warned != (v.String(settings.KeyBackend) == "env") {
				t.Errorf("env-backend warning shown = %v with KEY_BACKEND=%s", warned, v.String(settings.KeyBackend))
			}
			for k, want := range tt.want {
				if got := v.String(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if !strings.HasPrefix(v.String(settings.NodeID), "m2m-") && v.String(settings.NodeID) != "alice-node" {
				t.Errorf("NODE_ID = %q, want the flag or a generated m2m-xxxxxx", v.String(settings.NodeID))
			}
			assertNoSecretPrinted(t, v, res.printed())
			for _, step := range []string{"m2mctl up", "m2mctl status", "/health/ready"} {
				if !strings.Contains(res.stdout, step) {
					t.Errorf("next steps do not mention %q:\n%s", step, res.stdout)
				}
			}
			if grafana := "http://127.0.0.1:" + v.String(settings.GrafanaPort); v.Bool(settings.PrometheusEnabled) != strings.Contains(res.stdout, grafana) {
				t.Errorf("Grafana's address %s shown = %v, want %v (monitoring on)", grafana, !v.Bool(settings.PrometheusEnabled), v.Bool(settings.PrometheusEnabled))
			}
		})
	}
}

func TestInitGeneratesADifferentNodeIDAndSecretsEachTime(t *testing.T) {
	dir := t.TempDir()
	var seen []settings.Values
	for i := range 2 {
		path := filepath.Join(dir, "env"+string(rune('a'+i)))
		res := runInit(t, strings.NewReader(""), "--yes", "--output", path, "--settlement", "xrp", "--xrp-address", testXRPAddress,
			"--key-backend", "aws-kms", "--aws-region", "eu-west-1", "--aws-kms-xrp-key-id", "alias/node")
		if res.code != 0 {
			t.Fatalf("exit %d: %s", res.code, res.stderr)
		}
		seen = append(seen, loadWritten(t, path))
	}
	for _, k := range []string{settings.NodeID, settings.TigerBeetleClusterID, settings.GrafanaPassword, settings.NodePrivateKey} {
		if seen[0].String(k) == seen[1].String(k) {
			t.Errorf("%s is the same in two runs", k)
		}
	}
	if id := seen[0].String(settings.NodeID); len(id) != len("m2m-")+6 || strings.Trim(id[4:], nodeIDAlphabet) != "" {
		t.Errorf("generated NODE_ID %q, want m2m- and 6 of [a-z0-9]", id)
	}
}

func TestInitScriptedNamesEveryMissingFlag(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []string
		notWant []string
	}{
		// Keys are optional until something signs: the env backend's key files are never demanded.
		{"defaults need an EVM address, not a key", nil, []string{"--evm-address"}, []string{"--xrp-address", "--evm-private-key-file"}},
		{"xrp with env keys needs no key file", []string{"--settlement", "xrp"}, []string{"--xrp-address"}, []string{"--evm-address", "--xrp-secret-file"}},
		{"gcp", []string{"--settlement", "xrp", "--xrp-address", testXRPAddress, "--key-backend", "gcp-kms"},
			[]string{"--gcp-project-id", "--gcp-kms-location", "--gcp-kms-keyring", "--gcp-kms-xrp-key"}, []string{"--gcp-credentials-json-file", "--xrp-secret-file"}},
		{"aws access key without its secret", []string{"--settlement", "xrp", "--xrp-address", testXRPAddress, "--key-backend", "aws-kms",
			"--aws-region", "eu-west-1", "--aws-kms-xrp-key-id", "k", "--aws-access-key-id", "AKIAEXAMPLE"},
			[]string{"--aws-secret-access-key-file"}, nil},
		{"discovery", []string{"--settlement", "xrp", "--xrp-address", testXRPAddress, "--key-backend", "aws-kms",
			"--aws-region", "eu-west-1", "--aws-kms-xrp-key-id", "k", "--discovery", "on"},
			[]string{"--discovery-endpoints", "--announce-address"}, []string{"--aws-secret-access-key-file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".env")
			res := runInit(t, strings.NewReader(""), append([]string{"--yes", "--output", path}, tt.args...)...)
			if res.code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr:\n%s", res.code, exitUsage, res.stderr)
			}
			for _, flag := range tt.want {
				if !strings.Contains(res.stderr, flag+" ") {
					t.Errorf("stderr does not name %s:\n%s", flag, res.stderr)
				}
			}
			for _, flag := range tt.notWant {
				if strings.Contains(res.stderr, flag+" ") {
					t.Errorf("stderr names %s, which is not needed:\n%s", flag, res.stderr)
				}
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("a file was written although init failed (%v)", err)
			}
		})
	}
}

func TestInitRejectsBadFlagValuesNamingEach(t *testing.T) {
	badKey := writeSecretFile(t, "evm.key", "0xnot-a-key-but-a-secret-string")
	path := filepath.Join(t.TempDir(), ".env")
	res := runInit(t, strings.NewReader(""), "--yes", "--output", path,
		"--evm-address", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", // last letter's case flipped
		"--evm-private-key-file", badKey, "--btp-port", "70000", "--health-port", "9090", "--settlement", "evm")
	if res.code != exitUsage {
		t.Fatalf("exit %d, want %d; stderr:\n%s", res.code, exitUsage, res.stderr)
	}
	for _, want := range []string{"--evm-address", "checksum", "--evm-private-key-file", "--btp-port", "1-65535",
		"--health-port", "PROMETHEUS_PORT"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr does not mention %q:\n%s", want, res.stderr)
		}
	}
	if strings.Contains(res.printed(), "not-a-key-but-a-secret-string") {
		t.Errorf("the content of the key file was printed:\n%s", res.printed())
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a file was written although init failed (%v)", err)
	}
}

func TestInitKeepsAnExistingFileUnlessForced(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	old := "NODE_ID=old-node\n"
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--yes", "--output", path, "--settlement", "xrp", "--xrp-address", testXRPAddress,
		"--key-backend", "aws-kms", "--aws-region", "eu-west-1", "--aws-kms-xrp-key-id", "alias/node"}

	res := runInit(t, strings.NewReader(""), args...)
	if res.code != exitUsage || !strings.Contains(res.stderr, "--force") {
		t.Fatalf("exit %d, want %d and a hint at --force; stderr:\n%s", res.code, exitUsage, res.stderr)
	}
	if b, _ := os.ReadFile(path); string(b) != old {
		t.Fatalf("the existing file was changed without --force")
	}

	res = runInit(t, strings.NewReader(""), append(args, "--force")...)
	if res.code != 0 {
		t.Fatalf("with --force: exit %d: %s", res.code, res.stderr)
	}
	loadWritten(t, path)
	backups, _ := filepath.Glob(path + ".bak-*")
	if len(backups) != 1 {
		t.Fatalf("backups %v, want one %s.bak-<timestamp>", backups, path)
	}
	if b, _ := os.ReadFile(backups[0]); string(b) != old {
		t.Errorf("backup holds %q, want the old file %q", b, old)
	}
	if fi, _ := os.Stat(backups[0]); fi.Mode().Perm() != 0o600 {
		t.Errorf("backup has mode %o, want 0600", fi.Mode().Perm())
	}
	if !strings.Contains(res.stdout, filepath.Base(backups[0])) {
		t.Errorf("the backup's name is not reported:\n%s", res.stdout)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*.tmp-*"))
	if len(leftovers) > 0 {
		t.Errorf("temp files left behind: %v", leftovers)
	}
}

func TestWriteEnvFileNeverOverwritesABackup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	now := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	for i, content := range []string{"one\n", "two\n", "three\n"} {
		if _, err := writeEnvFile(path, []byte(content), i > 0, now); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	for name, want := range map[string]string{".env": "three\n", ".env.bak-20261127T093000Z": "one\n", ".env.bak-20261127T093000Z-2": "two\n"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q (%v), want %q", name, b, err, want)
		}
	}
}

func TestInitRefusesABadOutputBeforeAskingAnything(t *testing.T) {
	existing := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(existing, []byte("NODE_ID=old-node\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{existing, filepath.Join(t.TempDir(), "missing", ".env")} {
		res := runInit(t, strings.NewReader("answers nobody should read\n"), "--output", path)
		if res.code != exitUsage || !strings.Contains(res.stderr, path) {
			t.Errorf("--output %s: exit %d, want %d naming the path; stderr:\n%s", path, res.code, exitUsage, res.stderr)
		}
		if strings.Contains(res.stderr, doc(settings.NodeID)) {
			t.Errorf("--output %s: a question was asked before the output was refused", path)
		}
	}
}

// The seed's verbs still work: `setup` is init, `health` is status.
func TestSeedVerbsAreAliases(t *testing.T) {
	root := newRootCmd(&ioStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard}, openEngine)
	for alias, want := range map[string]string{"setup": "init", "health": "status"} {
		cmd, _, err := root.Find([]string{alias})
		if err != nil || cmd.Name() != want {
			t.Errorf("m2mctl %s runs %v (%v); want %s", alias, cmd.Name(), err, want)
		}
	}
}

// `config` says that settlement signing is not active, so an operator who gave keys knows they are unused.
func TestConfigSaysSettlementSigningIsNotActive(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	if res := runInit(t, strings.NewReader(""), "--yes", "--output", path, "--evm-address", testEVMAddress); res.code != 0 {
		t.Fatalf("init: exit %d: %s", res.code, res.stderr)
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), &ioStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, []string{"config", "--env-file", path})
	if code != 0 || !strings.Contains(errOut.String(), "Settlement signing is not active") {
		t.Fatalf("config: exit %d, stderr %q; want 0 and the note that signing is not active", code, errOut.String())
	}
	if strings.Contains(out.String(), "EVM_PRIVATE_KEY") {
		t.Errorf("the YAML passes EVM_PRIVATE_KEY to a container")
	}
}
