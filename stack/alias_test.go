package stack

import (
	"testing"

	"github.com/compose-spec/compose-go/v2/template"

	"github.com/m2mnet/m2m/stack/settings"
)

// Plain `docker compose` on the emitted YAML reads a setting from its alias when the .env uses that name, as
// m2mctl does; the m2m name wins when both are there. No aliased setting reaches a container today (they are
// signing settings, which no code reads yet), so the reference the YAML would carry is interpolated here with
// compose-go's own template engine, as Compose would.
func TestComposeReadsASettingUnderItsAlias(t *testing.T) {
	env := map[string]string{"XRP_PRIVATE_KEY": "sAliasSeed", settings.AzureKeyVaultURL: "https://own.vault.azure.net",
		"AZURE_KEYVAULT_URL": "https://alias.vault.azure.net"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for name, want := range map[string]string{settings.XRPSecret: "sAliasSeed", settings.AzureKeyVaultURL: "https://own.vault.azure.net"} {
		got, err := template.Substitute(ref(name), lookup)
		if err != nil || got != want {
			t.Errorf("%s via %s = %q, %v; want %q", name, ref(name), got, err, want)
		}
	}
}

// A setting reaches a service's environment only when its Services name that service: signing keys and KMS
// credentials stay in the .env.
func TestOnlyTheSettingsAServiceReadsAreInItsEnvironment(t *testing.T) {
	for _, s := range settings.Schema() {
		for _, svc := range []string{settings.ServiceConnector, settings.ServiceFormat} {
			_, in := environmentFor(svc)[s.Name]
			wanted := false
			for _, t := range s.Services {
				wanted = wanted || t == svc
			}
			if in != wanted {
				t.Errorf("%s in %s's environment: %v; its Services say %v", s.Name, svc, in, wanted)
			}
		}
	}
	for _, secret := range []string{settings.EVMPrivateKey, settings.XRPSecret, settings.AWSSecretAccessKey,
		settings.GCPCredentialsJSON, settings.AzureClientSecret} {
		if _, in := environmentFor(settings.ServiceConnector)[secret]; in {
			t.Errorf("%s is put into the connector's environment, which never reads it", secret)
		}
	}
}
