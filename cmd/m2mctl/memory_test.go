package main

import (
	"strings"
	"testing"
)

func TestLowMemoryWarningBelowTigerBeetlesSixGiB(t *testing.T) {
	tests := []struct {
		total int64
		want  string // "" for no warning
	}{
		{4 << 30, "has 4.0 GiB of memory"},
		{6<<30 - 1, "at least 6 GiB"},
		{6 << 30, ""},
		{24 << 30, ""},
		{0, ""}, // the engine did not say
	}
	for _, tc := range tests {
		got := lowMemoryWarning(tc.total)
		if tc.want == "" {
			if got != "" {
				t.Errorf("%d bytes: warning %q, want none", tc.total, got)
			}
			continue
		}
		if !strings.Contains(got, tc.want) || !strings.Contains(got, "TIGERBEETLE_CACHE_GRID=256MiB") || strings.Contains(got, "\n") {
			t.Errorf("%d bytes: warning %q; want one line containing %q and naming TIGERBEETLE_CACHE_GRID=256MiB", tc.total, got, tc.want)
		}
	}
}
