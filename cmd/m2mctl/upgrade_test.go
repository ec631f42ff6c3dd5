package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/stack/settings"
)

func TestUpgradeSetTakesImageSettingsOnly(t *testing.T) {
	tests := []struct {
		sets []string
		want string // in the usage error; "" means accepted
	}{
		{[]string{"CONNECTOR_IMAGE=m2m/connector:0.2.0", "GRAFANA_IMAGE=grafana/grafana:11.3.0"}, ""},
		{[]string{"LOG_LEVEL=debug"}, "upgrade moves images only"},
		{[]string{"CONNECTOR_IMAGE"}, "give SETTING=IMAGE"},
		{[]string{"CONNECTOR_IMAGE="}, "give SETTING=IMAGE"},
		{[]string{"CONNECTOR_IMAGE=a:1", "CONNECTOR_IMAGE=a:2"}, "given twice"},
		{[]string{"CONNECTOR_IMAGE=not an image"}, "--set CONNECTOR_IMAGE=not an image"},
	}
	for _, tt := range tests {
		got, err := parseImageSets(tt.sets)
		switch {
		case tt.want == "" && (err != nil || len(got) != len(tt.sets)):
			t.Errorf("--set %v: %v, %v; want accepted", tt.sets, got, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, new(usageError))):
			t.Errorf("--set %v: error %v, want a usage error saying %q", tt.sets, err, tt.want)
		}
	}
}

func TestImagePinsReplaceTheirLineAndKeepTheRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	body := "# my node\nNODE_ID=alice\nexport CONNECTOR_IMAGE=\"m2m/connector:0.1.0\"\n# GRAFANA_IMAGE=grafana/grafana:11.2.0\nLOG_LEVEL=info\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	err := setEnvValues(path, map[string]string{settings.ConnectorImage: "m2m/connector:0.2.0",
		settings.GrafanaImage: "grafana/grafana:11.3.0", settings.TigerBeetleImage: "ghcr.io/tigerbeetle/tigerbeetle:0.17.9"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "# my node\nNODE_ID=alice\nCONNECTOR_IMAGE=m2m/connector:0.2.0\nGRAFANA_IMAGE=grafana/grafana:11.3.0\nLOG_LEVEL=info\n" +
		"TIGERBEETLE_IMAGE=ghcr.io/tigerbeetle/tigerbeetle:0.17.9\n"
	if string(got) != want {
		t.Errorf(".env after the pins:\n%s\nwant:\n%s", got, want)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf(".env mode %v, want 0600 kept", st.Mode().Perm())
	}
}
