package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/m2mnet/m2m/stack"
	"github.com/m2mnet/m2m/stack/settings"
)

// status names the services the .env describes without loading the stack as a Compose project: the names
// must be the loaded project's, with and without each profile, and with the settings that add services.
func TestStatusWantsTheServicesOfTheLoadedProject(t *testing.T) {
	base := "NODE_ID=m2m-abc123\nTIGERBEETLE_CLUSTER_ID=5\nGRAFANA_PASSWORD=long-enough-password\nSETTLEMENT_PREFERENCE=xrp\n" +
		"XRP_ADDRESS=rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh\nXRP_SECRET=snoPBrXtMeMyMHUVTgbuqAfg1SUTb\n"
	for _, tc := range []struct {
		name, env string
		profiles  []string
	}{
		{"defaults", base, nil},
		{"tracing", base, []string{stack.ProfileTracing}},
		{"discovery", base, []string{stack.ProfileDiscovery}},
		{"both, monitoring off", base + settings.PrometheusEnabled + "=false\n", []string{stack.ProfileTracing, stack.ProfileDiscovery}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := filepath.Join(t.TempDir(), ".env")
			if err := os.WriteFile(env, []byte(tc.env), 0o600); err != nil {
				t.Fatal(err)
			}
			opts := &statusOptions{flags: deployFlags{envFile: env, project: "wanted", profiles: tc.profiles}}
			p, err := opts.flags.loadProject(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got, want := opts.wantedServices(t.Context()), p.ServiceNames(); !slices.Equal(got, want) || len(got) < 3 {
				t.Fatalf("status wants %v, the loaded project has %v", got, want)
			}
		})
	}
}
