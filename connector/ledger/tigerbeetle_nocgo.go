//go:build !cgo

package ledger

import "context"

// TigerBeetle stands in the type's place in a build without cgo; NewTigerBeetle never returns one.
type TigerBeetle struct{ Memory }

// NewTigerBeetle checks opts and returns ErrNoTigerBeetle: a build without cgo cannot reach a cluster.
func NewTigerBeetle(_ context.Context, opts Options) (*TigerBeetle, error) {
	if _, err := parseClusterID(opts.ClusterID); err != nil {
		return nil, err
	}
	return nil, ErrNoTigerBeetle
}
