package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/stack/settings"
)

// originalKeys are the keys of the TypeScript stack's .env.example, as issue 19 lists them.
var originalKeys = []string{"NODE_ID", "SETTLEMENT_PREFERENCE", "BASE_RPC_URL", "XRPL_WSS_URL", "EVM_ADDRESS", "XRP_ADDRESS",
	"KEY_BACKEND", "EVM_PRIVATE_KEY", "XRP_PRIVATE_KEY", "AWS_REGION", "AWS_KMS_EVM_KEY_ID", "AWS_KMS_XRP_KEY_ID", "GCP_PROJECT_ID",
	"GCP_KMS_LOCATION", "GCP_KMS_KEYRING", "GCP_KMS_EVM_KEY", "GCP_KMS_XRP_KEY", "AZURE_KEYVAULT_URL", "AZURE_EVM_KEY_NAME",
	"AZURE_XRP_KEY_NAME", "BTP_PORT", "HEALTH_CHECK_PORT", "PROMETHEUS_ENABLED", "GRAFANA_PASSWORD", "OTEL_EXPORTER_OTLP_ENDPOINT",
	"LOG_LEVEL", "PEER_DISCOVERY_ENABLED", "PEER_DISCOVERY_ENDPOINTS", "PEER_ANNOUNCE_ADDRESS"}

// The template in testdata has exactly the original's keys, and the operators of the migrate test fill every one
// of them but GRAFANA_PASSWORD, which they leave at the template's admin: so every original key is migrated with
// a value an operator set.
func TestTheOriginalTemplateHasTheOriginalKeysAndTheOperatorsSetThem(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "typescript.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	raw, problems := settings.ReadRaw(strings.NewReader(string(b)))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	var keys []string
	for _, e := range raw {
		keys = append(keys, e.Key)
		if e.Key == "GRAFANA_PASSWORD" && e.Value != "admin" {
			t.Errorf("the template's GRAFANA_PASSWORD is %q, want admin", e.Value)
		}
	}
	if !slices.Equal(keys, originalKeys) {
		t.Errorf("template keys:\n%v\nwant the original's:\n%v", keys, originalKeys)
	}
	set := map[string]bool{}
	for _, op := range operators {
		for k := range op {
			set[k] = true
		}
	}
	for _, k := range originalKeys {
		if !set[k] && k != "GRAFANA_PASSWORD" {
			t.Errorf("no operator of the migrate test sets %s", k)
		}
	}
	if set["GRAFANA_PASSWORD"] {
		t.Errorf("an operator sets GRAFANA_PASSWORD; the issue's operator leaves it at admin")
	}
}

// Every original key is one m2m reads: under its own name, or as an alias of the setting it spells.
func TestEveryOriginalKeyIsAnM2MSetting(t *testing.T) {
	for _, k := range originalKeys {
		if _, known := settings.Canonical(k); !known {
			t.Errorf("%s of the original .env is not an m2m setting nor an alias of one", k)
		}
	}
}

// The original's template filled in, given to `m2mctl config` as it is: the original's names are notes, not
// problems; what is left (a cluster id only the ledger knows, the admin password) points to `m2mctl migrate`.
func TestConfigOnTheOriginalTemplateNotesItsNamesAndPointsToMigrate(t *testing.T) {
	env := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(env, []byte(fillTemplate(t, operators["env keys, both chains"])), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runDeploy(t, "config", "--env-file", env)
	for _, want := range []string{
		"note: line 50: XRP_PRIVATE_KEY is read as XRP_SECRET", "note: line 65: AZURE_KEYVAULT_URL is read as AZURE_KEY_VAULT_URL",
		"line 87: GRAFANA_PASSWORD: must be at least 12 characters", "TIGERBEETLE_CLUSTER_ID: is required and missing",
		"uses the TypeScript connector stack's names (XRP_PRIVATE_KEY): run `m2mctl migrate`",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("config does not say %q:\n%s", want, stderr)
		}
	}
	if code != exitFailed {
		t.Errorf("exit %d, want 1", code)
	}
	// What is left is what migrate makes: the ledger's cluster id, a strong password, the node's discovery key.
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "  ") && !strings.Contains(line, settings.GrafanaPassword) &&
			!strings.Contains(line, settings.TigerBeetleClusterID) && !strings.Contains(line, settings.NodePrivateKey) {
			t.Errorf("config refuses the original template for another reason than what migrate makes: %q", line)
		}
	}
	if strings.Contains(stderr, operators["env keys, both chains"]["XRP_PRIVATE_KEY"]) {
		t.Errorf("config printed the XRP secret")
	}
}

// aliasKey finds KEY= lines, commented out or not, as .env.example writes optional settings.
var aliasKey = regexp.MustCompile(`(?m)^(?:# )?([A-Z][A-Z0-9_]*)=`)

// The wizard and the generated .env.example write m2m's names, never the original's.
func TestTheWizardAndEnvExampleWriteCanonicalNames(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "..", ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	written := map[string]string{".env.example": string(example)}
	for name, args := range map[string][]string{
		"env keys": {"--settlement", "both", "--evm-address", testEVMAddress, "--xrp-address", testXRPAddress,
			"--evm-private-key-file", writeSecretFile(t, "evm.key", testEVMKey), "--xrp-secret-file", writeSecretFile(t, "xrp.seed", testXRPSeed)},
		"azure": {"--settlement", "xrp", "--xrp-address", testXRPAddress, "--key-backend", "azure-kv",
			"--azure-key-vault-url", "https://v.vault.azure.net", "--azure-xrp-key-name", "node"},
	} {
		path := filepath.Join(dir, name)
		if res := runInit(t, strings.NewReader(""), append([]string{"--yes", "--output", path}, args...)...); res.code != 0 {
			t.Fatalf("init (%s): exit %d\n%s", name, res.code, res.stderr)
		}
		b, _ := os.ReadFile(path)
		written["init, "+name] = string(b)
	}
	for name, text := range written {
		keys := map[string]bool{}
		for _, m := range aliasKey.FindAllStringSubmatch(text, -1) {
			keys[m[1]] = true
			if c, known := settings.Canonical(m[1]); known && c != m[1] {
				t.Errorf("%s writes %s, the original's name of %s", name, m[1], c)
			}
		}
		for _, want := range []string{settings.XRPSecret, settings.AzureKeyVaultURL} {
			if !keys[want] && name != "init, env keys" {
				t.Errorf("%s does not write %s", name, want)
			}
		}
	}
	if !strings.Contains(written["init, env keys"], settings.XRPSecret+"=") {
		t.Errorf("init with an XRP seed does not write %s", settings.XRPSecret)
	}
}
