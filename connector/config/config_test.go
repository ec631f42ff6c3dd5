package config_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/stack/settings"

	"github.com/m2mnet/m2m/connector/config"
)

// seed is a throwaway ed25519 seed made for this test only.
var seed = bytes.Repeat([]byte{0x42}, 32)

// containerEnviron is what the stack gives the connector's container for an EVM node: only the connector's
// settings (no GRAFANA_PASSWORD, no PROMETHEUS_ENABLED), plus what every process has.
func containerEnviron() []string {
	return []string{
		"PATH=/usr/bin", "HOME=/",
		"NODE_ID=m2m-alpha",
		"TIGERBEETLE_CLUSTER_ID=170141183460469231731687303715884105727",
		"EVM_ADDRESS=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"EVM_PRIVATE_KEY=0x" + strings.Repeat("ab", 32),
		"NODE_PRIVATE_KEY=" + base64.StdEncoding.EncodeToString(seed),
	}
}

func TestFromEnvironAcceptsTheContainerEnvironmentWithDefaults(t *testing.T) {
	c, err := config.FromEnviron(containerEnviron())
	if err != nil {
		t.Fatalf("the environment the stack gives the connector is refused: %v", err)
	}
	want := config.Config{NodeID: "m2m-alpha", ILPAddress: "g.m2m.m2m-alpha", LogLevel: slog.LevelInfo,
		SettleEVM: true, EVMRPCURL: "https://mainnet.base.org", XRPLURL: "wss://xrplcluster.com",
		Ledger: config.LedgerTigerBeetle, TigerBeetleClusterID: "170141183460469231731687303715884105727",
		TigerBeetleAddress: "tigerbeetle:3000", DefaultCreditLimit: 1000000, BTPPort: 4000, HealthPort: 8080,
		TLS: config.TLS{Mode: "off", CA: "https://acme-v02.api.letsencrypt.org/directory", DataDir: "/data/acme"}}
	got := c
	if !bytes.Equal(got.NodePrivateKey, seed) {
		t.Errorf("NodePrivateKey is not the decoded seed")
	}
	got.NodePrivateKey, got.Discovery = nil, config.Discovery{}
	if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
		t.Errorf("config =\n%#v\nwant\n%#v", got, want)
	}
	if c.Discovery.Enabled || c.Discovery.Interval.Seconds() != 60 {
		t.Errorf("discovery = %+v; want disabled with the 60 s default interval", c.Discovery)
	}
}

func TestFromEnvironIgnoresOtherServicesSettings(t *testing.T) {
	env := append(containerEnviron(), "GRAFANA_PASSWORD=short", "PROMETHEUS_ENABLED=true", "PROMETHEUS_IMAGE=NOT AN IMAGE")
	if _, err := config.FromEnviron(env); err != nil {
		t.Fatalf("settings of other services made the connector fail: %v", err)
	}
}

func TestFromEnvironListsEveryProblemAtOnce(t *testing.T) {
	env := []string{"LEDGER=paper", "LOG_LEVEL=loud", "SETTLEMENT_PREFERENCE=xrp", "XRPL_WSS_URL=http://x", "HEALTH_CHECK_PORT=99999"}
	_, err := config.FromEnviron(env)
	var problems *settings.Problems
	if !errors.As(err, &problems) {
		t.Fatalf("err = %v; want *stack.Problems", err)
	}
	// XRP_ADDRESS is not the connector's: no code of it reads the address yet (m2mctl checks it in the .env).
	for _, key := range []string{"NODE_ID", "TIGERBEETLE_CLUSTER_ID", "LEDGER", "LOG_LEVEL", "XRPL_WSS_URL", "HEALTH_CHECK_PORT"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("problems do not name %s:\n%v", key, err)
		}
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	c, err := config.FromEnviron(containerEnviron())
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", c, "key", c.NodePrivateKey)
	b64 := base64.StdEncoding.EncodeToString(seed)
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c), "slog": logged.String(),
	} {
		if strings.Contains(out, b64) || strings.Contains(out, "BBBB") || strings.Contains(out, "66 66 66") ||
			strings.Contains(out, "[66") || strings.Contains(out, "0x42") || strings.Contains(out, "4242") {
			t.Errorf("%s shows the node key: %s", name, out)
		}
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("%s does not show the key as [redacted]: %s", name, out)
		}
	}
}
