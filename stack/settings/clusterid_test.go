package settings_test

import (
	"strings"
	"testing"

	"github.com/m2mnet/m2m/stack/settings"
	"github.com/m2mnet/m2m/stack/settings/settingstest"
)

// tigerbeetle format refuses "007" ("leading zero disallowed") and a sign: a cluster id the ledger could never
// have been formatted with is refused here, naming the setting and the rule.
func TestClusterIDWithALeadingZeroIsRefusedNamingTheRule(t *testing.T) {
	for _, bad := range []string{"007", "+7", "0x7", "-0"} {
		raw := settingstest.Sample()
		raw[settings.TigerBeetleClusterID] = bad
		_, err := settings.Parse(raw)
		if err == nil {
			t.Errorf("cluster id %q accepted; tigerbeetle format refuses it", bad)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, settings.TigerBeetleClusterID) || !strings.Contains(msg, "without leading zeros") {
			t.Errorf("cluster id %q: error %q does not name %s and the rule", bad, msg, settings.TigerBeetleClusterID)
		}
	}
	for _, good := range []string{"0", "7", "340282366920938463463374607431768211455"} {
		raw := settingstest.Sample()
		raw[settings.TigerBeetleClusterID] = good
		if _, err := settings.Parse(raw); err != nil {
			t.Errorf("cluster id %q refused: %v", good, err)
		}
	}
}
