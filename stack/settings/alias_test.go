package settings_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/stack/settings"
	"github.com/m2mnet/m2m/stack/settings/settingstest"
)

const xrpSeed = "sEdTM1uX8pu2do5XvTnutH6HsouMaM2"

// base is a valid XRP node with keys in .env, without its XRP seed.
const base = `NODE_ID=m2m-abc123
SETTLEMENT_PREFERENCE=xrp
XRP_ADDRESS=rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh
TIGERBEETLE_CLUSTER_ID=7
GRAFANA_PASSWORD=long-enough-password
`

func TestAnAliasIsReadAsItsSettingWithOneNotice(t *testing.T) {
	path := settingstest.WriteFile(t, t.TempDir(), ".env", base+"XRP_PRIVATE_KEY="+xrpSeed+"\nAZURE_KEYVAULT_URL=https://v.vault.azure.net\n")
	v, notices, err := settings.LoadWithNotices(path)
	if err != nil {
		t.Fatal(err)
	}
	if v.String(settings.XRPSecret) != xrpSeed || v.String(settings.AzureKeyVaultURL) != "https://v.vault.azure.net" {
		t.Errorf("aliases not read: XRP_SECRET set=%v AZURE_KEY_VAULT_URL=%q", v.String(settings.XRPSecret) != "", v.String(settings.AzureKeyVaultURL))
	}
	want := []string{"line 6: XRP_PRIVATE_KEY is read as XRP_SECRET", "line 7: AZURE_KEYVAULT_URL is read as AZURE_KEY_VAULT_URL"}
	if len(notices) != len(want) {
		t.Fatalf("notices = %v, want %d", notices, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(notices[i].String(), w) {
			t.Errorf("notice %d = %q, want it to start with %q", i, notices[i], w)
		}
	}
}

func TestASettingUnderTwoNamesIsRefusedNamingBothLines(t *testing.T) {
	for _, tt := range []struct{ name, body, key, want string }{
		{"canonical first", base + "XRP_SECRET=" + xrpSeed + "\nXRP_PRIVATE_KEY=" + xrpSeed + "\n", "XRP_PRIVATE_KEY", "XRP_SECRET, which line 6 sets too"},
		{"alias first", base + "XRP_PRIVATE_KEY=" + xrpSeed + "\nXRP_SECRET=" + xrpSeed + "\n", "XRP_SECRET", "also set on line 6 as XRP_PRIVATE_KEY"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := settings.Load(settingstest.WriteFile(t, t.TempDir(), ".env", tt.body))
			var ps *settings.Problems
			if !errors.As(err, &ps) || len(ps.List) != 1 {
				t.Fatalf("want one problem, got %v", err)
			}
			p := ps.List[0]
			if p.Key != tt.key || p.Line != 7 || !strings.Contains(p.Msg, tt.want) {
				t.Errorf("problem = %q, want line 7: %s naming line 6 (%q)", p, tt.key, tt.want)
			}
			if strings.Contains(err.Error(), xrpSeed) {
				t.Errorf("the refusal repeats the secret: %v", err)
			}
		})
	}
}

func TestARetiredSettingSaysWhatReplacedIt(t *testing.T) {
	_, err := settings.Load(settingstest.WriteFile(t, t.TempDir(), ".env", base+"XRP_SECRET="+xrpSeed+"\nAWS_KMS_KEY_ID=alias/x\n"))
	if err == nil || !strings.Contains(err.Error(), "line 7: AWS_KMS_KEY_ID: was replaced by one key per chain: AWS_KMS_EVM_KEY_ID and AWS_KMS_XRP_KEY_ID") {
		t.Fatalf("want the replacement named, got %v", err)
	}
}

func TestPerChainKMSKeysAreRequiredForTheChainsSettled(t *testing.T) {
	for _, tt := range []struct {
		backend, settle string
		want, notWant   []string
	}{
		{"aws-kms", "evm", []string{settings.AWSKMSEVMKeyID}, []string{settings.AWSKMSXRPKeyID}},
		{"aws-kms", "both", []string{settings.AWSKMSEVMKeyID, settings.AWSKMSXRPKeyID}, nil},
		{"gcp-kms", "xrp", []string{settings.GCPKMSLocation, settings.GCPKMSKeyring, settings.GCPKMSXRPKey}, []string{settings.GCPKMSEVMKey}},
		{"azure-kv", "xrp", []string{settings.AzureXRPKeyName}, []string{settings.AzureEVMKeyName}},
	} {
		raw := settingstest.Sample()
		raw[settings.KeyBackend], raw[settings.SettlementPreference] = tt.backend, tt.settle
		raw[settings.XRPAddress] = "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh"
		_, err := settings.Parse(raw)
		if err == nil {
			t.Fatalf("%s/%s: want missing keys", tt.backend, tt.settle)
		}
		for _, k := range tt.want {
			if !strings.Contains(err.Error(), k+": is required") {
				t.Errorf("%s/%s: %s not required:\n%v", tt.backend, tt.settle, k, err)
			}
		}
		for _, k := range tt.notWant {
			if strings.Contains(err.Error(), k) {
				t.Errorf("%s/%s: %s required although that chain is not settled:\n%v", tt.backend, tt.settle, k, err)
			}
		}
	}
}

func TestClusterZeroIsAcceptedWithANotice(t *testing.T) {
	body := strings.Replace(base, "TIGERBEETLE_CLUSTER_ID=7", "TIGERBEETLE_CLUSTER_ID=0", 1) + "XRP_SECRET=" + xrpSeed + "\n"
	v, notices, err := settings.LoadWithNotices(settingstest.WriteFile(t, t.TempDir(), ".env", body))
	if err != nil {
		t.Fatal(err)
	}
	if v.String(settings.TigerBeetleClusterID) != "0" || len(notices) != 1 || !strings.Contains(notices[0].String(), "line 4: TIGERBEETLE_CLUSTER_ID is 0") {
		t.Errorf("cluster %q, notices %v; want 0 and one notice on line 4", v.String(settings.TigerBeetleClusterID), notices)
	}
	for _, bad := range []string{"00", "-1", "+5", "340282366920938463463374607431768211456"} {
		raw := settingstest.Sample()
		raw[settings.TigerBeetleClusterID] = bad
		if _, err := settings.Parse(raw); err == nil {
			t.Errorf("cluster id %q accepted; TigerBeetle refuses it", bad)
		}
	}
}

func TestFromEnvironReadsAnAliasUnlessTheSettingIsThere(t *testing.T) {
	env := []string{"NODE_ID=m2m-abc123", "TIGERBEETLE_CLUSTER_ID=5", "XRP_PRIVATE_KEY=" + xrpSeed, "AZURE_KEYVAULT_URL=https://alias.vault.azure.net",
		"AZURE_KEY_VAULT_URL=https://own.vault.azure.net", "PROMETHEUS_ENABLED=false", "SETTLEMENT_PREFERENCE=xrp", "XRP_ADDRESS=rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh"}
	v, err := settings.FromEnviron(env)
	if err != nil {
		t.Fatal(err)
	}
	if v.String(settings.XRPSecret) != xrpSeed || v.String(settings.AzureKeyVaultURL) != "https://own.vault.azure.net" {
		t.Errorf("XRP_SECRET set=%v, AZURE_KEY_VAULT_URL=%q", v.String(settings.XRPSecret) == xrpSeed, v.String(settings.AzureKeyVaultURL))
	}
}

// Another stack's .env has problems m2m's does not (no cluster id): its names are still noted, beside them.
func TestAnAliasIsNotedBesideTheProblems(t *testing.T) {
	body := strings.Replace(base, "TIGERBEETLE_CLUSTER_ID=7\n", "", 1) + "XRP_PRIVATE_KEY=" + xrpSeed + "\n"
	_, notices, err := settings.LoadWithNotices(settingstest.WriteFile(t, t.TempDir(), ".env", body))
	if err == nil || !strings.Contains(err.Error(), settings.TigerBeetleClusterID) {
		t.Fatalf("want the missing cluster id, got %v", err)
	}
	if len(notices) != 1 || !strings.HasPrefix(notices[0].String(), "line 5: XRP_PRIVATE_KEY is read as XRP_SECRET") {
		t.Errorf("notices = %v, want the alias on line 5", notices)
	}
}
