package ledger

import (
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/m2mnet/m2m/connector/metrics"
)

// Options configures NewTigerBeetle.
type Options struct {
	// ClusterID is the cluster's id in decimal, as TIGERBEETLE_CLUSTER_ID holds it (0 is TigerBeetle's test cluster).
	ClusterID string
	// Address is host:port of the one replica, or of every replica comma-separated in replica order. Hosts are
	// resolved here; TigerBeetle itself takes only IP literals.
	Address string
	// CallTimeout is the staleness rule (default 5 s): when a call has waited this long and the cluster sent
	// nothing to anyone meanwhile, the client is closed and rebuilt. A caller's own deadline never does that.
	CallTimeout time.Duration
	Logger      *slog.Logger
	Metrics     *metrics.Metrics // may be nil
}

// parseClusterID accepts exactly what `tigerbeetle format --cluster` accepts: 0, or a decimal number without
// sign or leading zero, up to 2^128-1.
func parseClusterID(s string) (*big.Int, error) {
	valid := s == "0" || s != "" && s[0] >= '1' && s[0] <= '9'
	for i := 0; valid && i < len(s); i++ {
		valid = s[i] >= '0' && s[i] <= '9'
	}
	id, ok := new(big.Int).SetString(s, 10)
	if !valid || !ok || id.BitLen() > 128 {
		return nil, fmt.Errorf("TigerBeetle cluster id %q is not 0 or a decimal number without sign or leading zero up to 2^128-1, "+
			"as tigerbeetle format takes it; set TIGERBEETLE_CLUSTER_ID to the --cluster the data file was formatted with", s)
	}
	return id, nil
}

// ErrNoTigerBeetle is returned by NewTigerBeetle in a program built without cgo: the TigerBeetle client is a
// C library, so such a build keeps only the memory ledger (and everything that needs no ledger, such as the
// discovery registry).
var ErrNoTigerBeetle = errors.New("ledger: this program was built without cgo, so it has no TigerBeetle client")
