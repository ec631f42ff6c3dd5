package settings_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/stack/settings"
	"github.com/m2mnet/m2m/stack/settings/settingstest"
)

func TestLoadReportsEveryProblemWithItsLine(t *testing.T) {
	path := settingstest.WriteFile(t, t.TempDir(), ".env", `# node
NODE_ID=m2m-abc123
EVM_ADDRESS=0x12345
TIGERBEETLE_CLUSTER_ID=99
GRAFANA_PASSWORD=long-enough-password
BTP_PORT=abc
EVM_PRIVATE_KEY=0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318
SETTLEMENT_PREFERENCE=btc
`)
	_, err := settings.Load(path)
	var ps *settings.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Load: want *Problems, got %v", err)
	}
	want := []struct {
		key  string
		line int
	}{{settings.EVMAddress, 3}, {settings.BTPPort, 6}, {settings.SettlementPreference, 8}}
	if len(ps.List) != len(want) {
		t.Fatalf("want %d problems, got %d:\n%v", len(want), len(ps.List), err)
	}
	for i, w := range want {
		if ps.List[i].Key != w.key || ps.List[i].Line != w.line {
			t.Errorf("problem %d = %s line %d, want %s line %d", i, ps.List[i].Key, ps.List[i].Line, w.key, w.line)
		}
	}
	msg := err.Error()
	for _, s := range []string{"line 3", "line 6", "line 8", "0x followed by 40 hex digits", "evm, xrp, both"} {
		if !strings.Contains(msg, s) {
			t.Errorf("message lacks %q:\n%s", s, msg)
		}
	}
}
func TestLoadNeverRepeatsASecret(t *testing.T) {
	path := settingstest.WriteFile(t, t.TempDir(), ".env", "NODE_ID=m2m-abc123\nTIGERBEETLE_CLUSTER_ID=7\nGRAFANA_PASSWORD=short\nEVM_PRIVATE_KEY=0xnot-a-key-but-secret\n")
	_, err := settings.Load(path)
	if err == nil {
		t.Fatal("want problems")
	}
	for _, secret := range []string{"short", "0xnot-a-key-but-secret"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error repeats the secret %q:\n%v", secret, err)
		}
	}
	if !strings.Contains(err.Error(), settings.GrafanaPassword) {
		t.Errorf("error does not name %s:\n%v", settings.GrafanaPassword, err)
	}
}
func TestLoadNamesMissingRequiredSettings(t *testing.T) {
	path := settingstest.WriteFile(t, t.TempDir(), ".env", "SETTLEMENT_PREFERENCE=xrp\nKEY_BACKEND=aws-kms\n")
	_, err := settings.Load(path)
	if err == nil {
		t.Fatal("want problems")
	}
	for _, key := range []string{settings.NodeID, settings.XRPAddress, settings.AWSRegion, settings.AWSKMSXRPKeyID, settings.TigerBeetleClusterID, settings.GrafanaPassword} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("missing %s not reported:\n%v", key, err)
		}
	}
	if strings.Contains(err.Error(), settings.EVMAddress) {
		t.Errorf("EVM_ADDRESS reported although settlement is xrp only:\n%v", err)
	}
}
func TestRenderEnvLoadsBack(t *testing.T) {
	in := settingstest.Sample()
	in[settings.PeersFile] = "/data/my peers.yaml"
	path := settingstest.WriteFile(t, t.TempDir(), ".env", string(settings.RenderEnv(in)))
	v, err := settings.Load(path)
	if err != nil {
		t.Fatalf("Load(RenderEnv(sample)): %v", err)
	}
	for k, want := range in {
		if v[k] != want {
			t.Errorf("%s = %q, want %q", k, v[k], want)
		}
	}
	if v[settings.LogLevel] != "info" {
		t.Errorf("default LOG_LEVEL = %q, want info", v[settings.LogLevel])
	}
}
func TestFromEnvironIgnoresOtherVariables(t *testing.T) {
	env := []string{"PATH=/bin", "HOME=/root"}
	for k, v := range settingstest.Sample() {
		env = append(env, k+"="+v)
	}
	v, err := settings.FromEnviron(env)
	if err != nil {
		t.Fatalf("FromEnviron: %v", err)
	}
	if v.Int(settings.BTPPort) != 4000 || v.String(settings.NodeID) != "m2m-abc123" || !v.Settlement("evm") || v.Settlement("xrp") {
		t.Errorf("unexpected values: BTP_PORT=%d NODE_ID=%s", v.Int(settings.BTPPort), v.String(settings.NodeID))
	}
}
func TestDuplicateHostPortsAreRefused(t *testing.T) {
	raw := settingstest.Sample()
	raw[settings.GrafanaPort] = "9090"
	_, err := settings.Parse(raw)
	if err == nil || !strings.Contains(err.Error(), "same host port as PROMETHEUS_PORT") {
		t.Fatalf("want a duplicate-port problem, got %v", err)
	}
}
func TestFromEnvironForJudgesOnlyTheServicesSettings(t *testing.T) {
	// The connector's container receives no GRAFANA_PASSWORD; monitoring being on must not fail it.
	env := []string{"NODE_ID=m2m-abc123", "TIGERBEETLE_CLUSTER_ID=5", "SETTLEMENT_PREFERENCE=xrp", "XRP_ADDRESS=rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh",
		"XRP_SECRET=sEdTM1uX8pu2do5XvTnutH6HsouMaM2", "GRAFANA_PORT=not-a-port"}
	connector := func(s settings.Setting) bool { return slices.Contains(s.Services, settings.ServiceConnector) }
	if _, err := settings.FromEnvironFor(env, connector); err != nil {
		t.Fatalf("connector settings judged with another service's rules: %v", err)
	}
	_, err := settings.FromEnviron(env)
	if err == nil || !strings.Contains(err.Error(), settings.GrafanaPassword) || !strings.Contains(err.Error(), settings.GrafanaPort) {
		t.Fatalf("whole-node validation should name GRAFANA_PASSWORD and GRAFANA_PORT, got %v", err)
	}
}
