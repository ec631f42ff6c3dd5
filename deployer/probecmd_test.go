package deployer

import (
	"slices"
	"testing"

	"github.com/moby/moby/api/types/container"
)

func TestProbeCommandIsWhatTheEngineExecs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hc    *container.HealthConfig
		shell []string
		want  []string
	}{
		{"CMD runs as it is, no shell needed (scratch images)", &container.HealthConfig{Test: []string{"CMD", "/m2m-connector", "healthcheck"}}, nil,
			[]string{"/m2m-connector", "healthcheck"}},
		{"CMD-SHELL runs under /bin/sh -c", &container.HealthConfig{Test: []string{"CMD-SHELL", "nc -w 1 127.0.0.1 3000"}}, nil,
			[]string{"/bin/sh", "-c", "nc -w 1 127.0.0.1 3000"}},
		{"CMD-SHELL runs under the image's SHELL when it sets one", &container.HealthConfig{Test: []string{"CMD-SHELL", "exit 0"}},
			[]string{"/bin/bash", "-ec"}, []string{"/bin/bash", "-ec", "exit 0"}},
		{"NONE disables the check", &container.HealthConfig{Test: []string{"NONE"}}, nil, nil},
		{"no health check", nil, nil, nil},
		{"a test with no command", &container.HealthConfig{Test: []string{"CMD"}}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := probeCommand(tc.hc, tc.shell); !slices.Equal(got, tc.want) {
				t.Errorf("probeCommand(%v, %v) = %q, want %q", tc.hc, tc.shell, got, tc.want)
			}
		})
	}
}
