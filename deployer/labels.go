package deployer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
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

	// LabelFilesHash is the deployer's own: a digest of the files a container's configs and secrets mount.
	// Compose's hash covers the service only, so an edited file would otherwise go unnoticed; Compose
	// ignores the label, and a container without it (made by Compose) is judged by Compose's hash alone.
	LabelFilesHash = "io.m2m.files-hash"
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

// filesHash is a digest of the content of the files s's configs and secrets come from ("" when it has none).
func filesHash(p *types.Project, s types.ServiceConfig) (string, error) {
	if len(s.Configs) == 0 && len(s.Secrets) == 0 {
		return "", nil
	}
	h := sha256.New()
	for _, c := range s.Configs {
		if obj, ok := p.Configs[c.Source]; ok {
			if err := hashFileObject(h, types.FileObjectConfig(obj)); err != nil {
				return "", fmt.Errorf("hash service %s config %s: %w", s.Name, c.Source, err)
			}
		}
	}
	for _, c := range s.Secrets {
		if obj, ok := p.Secrets[c.Source]; ok {
			if err := hashFileObject(h, types.FileObjectConfig(obj)); err != nil {
				return "", fmt.Errorf("hash service %s secret %s: %w", s.Name, c.Source, err)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFileObject(h io.Writer, obj types.FileObjectConfig) error {
	fmt.Fprintf(h, "\x00%s\x00", obj.Name)
	if obj.File == "" {
		_, err := io.WriteString(h, obj.Content)
		return err
	}
	f, err := os.Open(obj.File)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(h, f)
	return err
}
