package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/m2mnet/m2m/stack/settings"
)

// withMigrateHint adds, to the problems of a .env that has no TIGERBEETLE_CLUSTER_ID and uses a name of the
// TypeScript stack's (an alias), that `m2mctl migrate` is the way to convert it. Without the hint the operator
// reads "run m2mctl init --force", which gives the existing ledger a cluster id it was not formatted with.
func withMigrateHint(path string, err error) error {
	var ps *settings.Problems
	if !errors.As(err, &ps) || !missing(ps, settings.TigerBeetleClusterID) {
		return err
	}
	alias := aliasIn(path)
	if alias == "" {
		return err
	}
	return fmt.Errorf("%w\n%s uses the TypeScript connector stack's names (%s): run `m2mctl migrate` in its directory to convert it; "+
		"it keeps the cluster id of the existing ledger, the stack's volumes and every setting, and replaces GRAFANA_PASSWORD=admin "+
		"(`m2mctl init --force` would give the ledger a new cluster id)", err, path, alias)
}

func missing(ps *settings.Problems, key string) bool {
	for _, p := range ps.List {
		if p.Key == key && p.Line == 0 {
			return true
		}
	}
	return false
}

// aliasIn returns the first key of the .env at path that is another stack's name of an m2m setting, or "".
func aliasIn(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	raw, _ := settings.ReadRaw(f)
	for _, e := range raw {
		if c, known := settings.Canonical(e.Key); known && c != e.Key {
			return e.Key
		}
	}
	return ""
}
