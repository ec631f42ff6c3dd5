package ledger

import (
	"math/big"
	"strings"
	"testing"
)

// parseClusterID takes exactly what `tigerbeetle format --cluster` takes.
func TestParseClusterIDAcceptsWhatTigerBeetleAccepts(t *testing.T) {
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	for _, s := range []string{"0", "7", "1000", max.String()} {
		id, err := parseClusterID(s)
		if err != nil || id.String() != s {
			t.Errorf("parseClusterID(%q) = %v, %v; want %s", s, id, err, s)
		}
	}
	for _, s := range []string{"007", "00", "+7", "-1", "-0", "", " 7", "7 ", "0x7", "1e3", new(big.Int).Add(max, big.NewInt(1)).String()} {
		if _, err := parseClusterID(s); err == nil || !strings.Contains(err.Error(), "without sign or leading zero") {
			t.Errorf("parseClusterID(%q) = %v; want a refusal naming the rule", s, err)
		}
	}
}
