package stack

import (
	"context"
	"testing"

	"github.com/m2mnet/m2m/stack/settings"
)

// Plain `docker compose` on the emitted YAML reads a setting from its alias when the .env uses that name, as
// m2mctl does; the m2m name wins when both are there.
func TestComposeReadsASettingUnderItsAlias(t *testing.T) {
	env := map[string]string{settings.GrafanaPassword: "long-enough-password", settings.TigerBeetleClusterID: "7",
		"XRP_PRIVATE_KEY": "sAliasSeed", settings.AzureKeyVaultURL: "https://own.vault.azure.net", "AZURE_KEYVAULT_URL": "https://alias.vault.azure.net"}
	p, err := Project(context.Background(), settings.Defaults(), LoadOptions{WorkingDir: t.TempDir(), Environment: env})
	if err != nil {
		t.Fatal(err)
	}
	got := p.Services[settings.ServiceConnector].Environment
	for name, want := range map[string]string{settings.XRPSecret: "sAliasSeed", settings.AzureKeyVaultURL: "https://own.vault.azure.net"} {
		if v := got[name]; v == nil || *v != want {
			t.Errorf("connector's %s = %v, want %q", name, v, want)
		}
	}
}
