package deployer

import (
	"fmt"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/m2mnet/m2m/stack"
)

// Compose's labels: containers, networks and volumes made here carry them so that `docker compose -p NAME`
// sees the stack as its own, and the deployer sees a stack that Compose made.
const (
	LabelProject     = "com.docker.compose.project"
	LabelService     = "com.docker.compose.service"
	LabelNumber      = "com.docker.compose.container-number"
	LabelOneoff      = "com.docker.compose.oneoff"
	LabelConfigHash  = "com.docker.compose.config-hash"
	LabelVersion     = "com.docker.compose.version"
	LabelDependsOn   = "com.docker.compose.depends_on"
	LabelWorkingDir  = "com.docker.compose.project.working_dir"
	LabelConfigFiles = "com.docker.compose.project.config_files"
	LabelNetwork     = "com.docker.compose.network"
	LabelVolume      = "com.docker.compose.volume"
	LabelImage       = "com.docker.compose.image"
)

// ComposeVersion is written in the version label; Compose v2 reads it only for display.
const ComposeVersion = "2.40.3"

// dependsOnLabel renders depends_on as Compose does: "svc:condition:restart,…".
func dependsOnLabel(s types.ServiceConfig) string {
	var parts []string
	for name, d := range s.DependsOn {
		parts = append(parts, fmt.Sprintf("%s:%s:%t", name, d.Condition, d.Restart))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// portSettings parses LabelPortSettings: "4000=BTP_PORT,9090/tcp=PROMETHEUS_PORT" → {"4000": "BTP_PORT", …}.
func portSettings(s types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s.Labels[stack.LabelPortSettings], ",") {
		port, setting, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok {
			port, _, _ = strings.Cut(port, "/")
			out[port] = setting
		}
	}
	return out
}

func projectLabels(p *types.Project) map[string]string {
	return map[string]string{LabelProject: p.Name, LabelVersion: ComposeVersion}
}
