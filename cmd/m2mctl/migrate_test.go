package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/internal/testenv"
	"github.com/m2mnet/m2m/stack/settings"
)

func uniqueProject(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// fillTemplate is the TypeScript stack's .env.example (testdata) with values set as an operator sets them:
// each KEY= line of the template gets the value given, every other line stays as it is.
func fillTemplate(t *testing.T, values map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "typescript.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for k, v := range values {
		re := regexp.MustCompile(`(?m)^` + k + `=.*$`)
		if !re.MatchString(text) {
			t.Fatalf("the template has no %s line", k)
		}
		text = re.ReplaceAllLiteralString(text, k+"="+v)
	}
	return text
}

// The settings operators of the original stack typically have: keys in the .env (the operator), or in
// a cloud KMS with one key per chain. Together they fill every key of the template.
var operators = map[string]map[string]string{
	"env keys, both chains": {
		"NODE_ID": "acme-edge-1", "SETTLEMENT_PREFERENCE": "both", "BASE_RPC_URL": "https://base.example.com/rpc",
		"XRPL_WSS_URL": "wss://xrpl.example.com", "EVM_ADDRESS": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"XRP_ADDRESS": "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh", "KEY_BACKEND": "env",
		"EVM_PRIVATE_KEY": "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
		"XRP_PRIVATE_KEY": "sEdTM1uX8pu2do5XvTnutH6HsouMaM2", "BTP_PORT": "4100", "HEALTH_CHECK_PORT": "8181",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318", "LOG_LEVEL": "debug", "PEER_DISCOVERY_ENABLED": "true",
		"PEER_DISCOVERY_ENDPOINTS": "https://discovery.m2m.network", "PEER_ANNOUNCE_ADDRESS": "wss://acme-edge-1.example.com:4100",
	},
	"cloud KMS keys per chain": {
		"NODE_ID": "acme-edge-2", "SETTLEMENT_PREFERENCE": "both", "EVM_ADDRESS": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"XRP_ADDRESS": "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh", "KEY_BACKEND": "azure-kv",
		"AWS_REGION": "eu-west-1", "AWS_KMS_EVM_KEY_ID": "alias/acme-evm", "AWS_KMS_XRP_KEY_ID": "alias/acme-xrp",
		"GCP_PROJECT_ID": "acme-prod", "GCP_KMS_LOCATION": "europe-west1", "GCP_KMS_KEYRING": "m2m", "GCP_KMS_EVM_KEY": "evm-signer",
		"GCP_KMS_XRP_KEY": "xrp-signer", "AZURE_KEYVAULT_URL": "https://acme.vault.azure.net", "AZURE_EVM_KEY_NAME": "evm-signer",
		"AZURE_XRP_KEY_NAME": "xrp-signer", "PROMETHEUS_ENABLED": "true",
	},
}

var originalNames = map[string]string{"XRP_PRIVATE_KEY": settings.XRPSecret, "AZURE_KEYVAULT_URL": settings.AzureKeyVaultURL}

func TestMigrateTheOriginalTemplateThenConfigPasses(t *testing.T) {
	testenv.NeedsEngine(t)
	for name, op := range operators {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			env := filepath.Join(dir, ".env")
			original := fillTemplate(t, op)
			if err := os.WriteFile(env, []byte(original), 0o600); err != nil {
				t.Fatal(err)
			}
			project := uniqueProject("m2mmig-")
			code, stdout, stderr := runDeploy(t, "migrate", "--from", env, "--env-file", env, "--project", project)
			if code != 0 {
				t.Fatalf("migrate: exit %d\n%s", code, stderr)
			}
			code, _, cfgErr := runDeploy(t, "config", "--env-file", env)
			if code != 0 {
				t.Fatalf("config after migrate: exit %d\n%s", code, cfgErr)
			}
			v, err := settings.Load(env)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range op {
				if c, ok := originalNames[k]; ok {
					k = c
				}
				if got := v.String(k); got != want {
					t.Errorf("%s = %q after migrate, want the operator's %q", k, got, want)
				}
			}
			if p := v.String(settings.GrafanaPassword); p == "admin" || len(p) < 12 {
				t.Errorf("GRAFANA_PASSWORD is still weak (%d characters)", len(p))
			}
			if v.String(settings.ProjectName) != project || v.String(settings.GrafanaPort) != "3001" {
				t.Errorf("COMPOSE_PROJECT_NAME=%s GRAFANA_PORT=%s; want %s and 3001", v.String(settings.ProjectName), v.String(settings.GrafanaPort), project)
			}
			if c := v.String(settings.TigerBeetleClusterID); c == "" || c == "0" {
				t.Errorf("TIGERBEETLE_CLUSTER_ID = %q; no ledger exists, so want a new random id", c)
			}
			for _, said := range []string{"GRAFANA_PASSWORD was the template's admin", "GRAFANA_PORT=3001", "a new random id"} {
				if !strings.Contains(stderr, said) {
					t.Errorf("migrate did not say %q:\n%s", said, stderr)
				}
			}
			if strings.Contains(cfgErr, "is read as") {
				t.Errorf("config notes an alias in the migrated file; migrate must write m2m's names:\n%s", cfgErr)
			}
			for _, secret := range []string{op["EVM_PRIVATE_KEY"], op["XRP_PRIVATE_KEY"], v.String(settings.GrafanaPassword), v.String(settings.NodePrivateKey)} {
				if secret != "" && strings.Contains(stdout+stderr, secret) {
					t.Errorf("migrate printed a secret")
				}
			}
			checkBackup(t, dir, original)
		})
	}
}

// checkBackup requires the original .env kept byte for byte next to the new one, and both private.
func checkBackup(t *testing.T, dir, original string) {
	t.Helper()
	backups, _ := filepath.Glob(filepath.Join(dir, ".env.bak-*"))
	if len(backups) != 1 {
		t.Fatalf("backups of the original .env: %v, want one", backups)
	}
	if b, _ := os.ReadFile(backups[0]); !bytes.Equal(b, []byte(original)) {
		t.Errorf("%s differs from the original .env", backups[0])
	}
	for _, f := range []string{filepath.Join(dir, ".env"), backups[0]} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", f, fi.Mode().Perm(), err)
		}
	}
}

func TestMigrateNamesTheProjectAfterTheDirectoryAsComposeDoes(t *testing.T) {
	testenv.NeedsEngine(t)
	suffix := uniqueProject("")
	dir := filepath.Join(t.TempDir(), "TS Stack."+suffix)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	env := filepath.Join(dir, ".env")
	if err := os.WriteFile(env, []byte(fillTemplate(t, operators["env keys, both chains"])), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runDeploy(t, "migrate", "--from", env, "--env-file", env, "--dry-run")
	if code != 0 || !strings.Contains(stderr, "COMPOSE_PROJECT_NAME=tsstack"+suffix+":") || !strings.Contains(stderr, "nothing was written") {
		t.Errorf("exit %d; want project tsstack%s and a dry run:\n%s", code, suffix, stderr)
	}
	if backups, _ := filepath.Glob(filepath.Join(dir, ".env.bak-*")); len(backups) != 0 {
		t.Errorf("a dry run wrote %v", backups)
	}
}

func TestMigrateRefusesWhatItCannotTake(t *testing.T) {
	dir := t.TempDir()
	mixed := fillTemplate(t, operators["env keys, both chains"]) + "XRP_SECRET=sEdTM1uX8pu2do5XvTnutH6HsouMaM2\n"
	tests := []struct{ name, body, want string }{
		{"a setting under two names", mixed, "line 100: XRP_SECRET sets XRP_SECRET, which line 50 sets too (as XRP_PRIVATE_KEY)"},
		{"an m2m .env", "NODE_ID=m2m-abc123\nTIGERBEETLE_CLUSTER_ID=5\n", "is an m2m .env already (line 2 sets TIGERBEETLE_CLUSTER_ID)"},
		{"no such file", "", "--from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if tt.body != "" {
				if err := os.WriteFile(env, []byte(tt.body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			code, _, stderr := runDeploy(t, "migrate", "--from", env, "--env-file", env+".new")
			if code != exitUsage || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "sEdTM1uX8pu2do5XvTnutH6HsouMaM2") {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", code, stderr, tt.want)
			}
			if _, err := os.Stat(env + ".new"); err == nil {
				t.Errorf("a refused migration wrote %s.new", env)
			}
		})
	}
}

// A .env that gives one setting under its m2m name and under the original's is refused by every command that
// reads it, naming both lines.
func TestConfigRefusesASettingUnderTwoNames(t *testing.T) {
	env := filepath.Join(t.TempDir(), ".env")
	body := "NODE_ID=m2m-abc123\nTIGERBEETLE_CLUSTER_ID=5\nGRAFANA_PASSWORD=long-enough-password\nAZURE_KEY_VAULT_URL=https://a.vault.azure.net\n" +
		"EVM_ADDRESS=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\nEVM_PRIVATE_KEY=0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318\n" +
		"AZURE_KEYVAULT_URL=https://b.vault.azure.net\n"
	if err := os.WriteFile(env, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runDeploy(t, "config", "--env-file", env)
	want := "line 7: AZURE_KEYVAULT_URL: is another name of AZURE_KEY_VAULT_URL, which line 4 sets too"
	if code != exitFailed || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr, want)
	}
}

// The original's names work in an m2m .env: config accepts them and prints one note per name, nothing more.
func TestConfigNotesEachAliasOnce(t *testing.T) {
	env := filepath.Join(t.TempDir(), ".env")
	body := "NODE_ID=m2m-abc123\nTIGERBEETLE_CLUSTER_ID=5\nGRAFANA_PASSWORD=long-enough-password\nSETTLEMENT_PREFERENCE=xrp\n" +
		"XRP_ADDRESS=rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh\nXRP_PRIVATE_KEY=snoPBrXtMeMyMHUVTgbuqAfg1SUTb\nAZURE_KEYVAULT_URL=https://a.vault.azure.net\n"
	if err := os.WriteFile(env, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runDeploy(t, "config", "--env-file", env)
	want := []string{"note: line 6: XRP_PRIVATE_KEY is read as XRP_SECRET", "note: line 7: AZURE_KEYVAULT_URL is read as AZURE_KEY_VAULT_URL",
		"note: " + signingInactive}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 0 || len(lines) != len(want) {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 0 and %d note lines", code, stderr, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("note %d = %q, want %q…", i, lines[i], w)
		}
	}
	if strings.Contains(stdout+stderr, "sEdTM1uX8pu2do5XvTnutH6HsouMaM2") {
		t.Errorf("config printed the XRP secret")
	}
}
