package config_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/connector/config"
	"github.com/m2mnet/m2m/stack/settings"
	"github.com/m2mnet/m2m/stack/settings/settingstest"
)

// TestEveryInjectedSettingIsRead holds the rule "a setting reaches a container only when that container's code
// reads it": for every setting whose Services name the connector (so the stack puts it in the connector's
// environment, visible to `docker inspect`), changing its value to another valid one must change the Config the
// connector builds. A setting injected but never read (a signing key no code uses yet) fails here.
func TestEveryInjectedSettingIsRead(t *testing.T) {
	base, err := settings.Parse(settingstest.Sample())
	if err != nil {
		t.Fatalf("the sample settings are invalid: %v", err)
	}
	want, err := config.FromValues(base)
	if err != nil {
		t.Fatal(err)
	}
	injected := 0
	for _, s := range settings.Schema() {
		if !slices.Contains(s.Services, settings.ServiceConnector) {
			continue
		}
		injected++
		read := false
		tried := []string{}
		for _, alt := range alternatives(s) {
			if alt == base[s.Name] || s.Check(alt) != nil {
				continue
			}
			tried = append(tried, alt)
			changed := make(settings.Values, len(base))
			for k, v := range base {
				changed[k] = v
			}
			changed[s.Name] = alt
			got, err := config.FromValues(changed)
			if err != nil || !reflect.DeepEqual(got, want) {
				read = true
				break
			}
		}
		switch {
		case len(tried) == 0:
			t.Errorf("%s: no other valid value to try; give the setting an Example", s.Name)
		case !read:
			t.Errorf("%s is put into the connector's container but connector/config ignores it (tried %q): "+
				"remove %s from its Services, or read it", s.Name, tried, settings.ServiceConnector)
		}
	}
	if injected < 10 {
		t.Fatalf("only %d settings name the connector; the schema's Services are not what this test expects", injected)
	}
}

// TestSigningKeysReachNoContainer: the connector signs nothing yet, so no key, KMS credential or settlement
// address is passed to any service.
func TestSigningKeysReachNoContainer(t *testing.T) {
	for _, s := range settings.Schema() {
		if s.Group == settings.GroupKeys && len(s.Services) > 0 {
			t.Errorf("%s is passed to %v, which reads no signing setting", s.Name, s.Services)
		}
	}
}

// alternatives are values to try for s: its example, default and choices, and a few common shapes.
func alternatives(s settings.Setting) []string {
	out := append([]string{s.Example, s.Default}, s.Choices...)
	return append(out, "true", "false", "1", "12345", "debug", "30s", "g.m2m.other-node", "http://127.0.0.1:4318",
		"ws://127.0.0.1:4000", "https://discovery.example.com", "/etc/m2m/peers.yaml", "10.0.0.2:3000", "memory",
		"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", // a 32-byte ed25519 seed
		"0x"+strings.Repeat("ab", 32))                  // a 32-byte hex key
}
