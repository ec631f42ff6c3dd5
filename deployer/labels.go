package deployer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
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

	// LabelPortSettings on a service maps container ports to the .env settings that publish them
	// ("4000=BTP_PORT,9090=PROMETHEUS_PORT"), so a port conflict names the setting to change.
	LabelPortSettings = "io.m2m.port-settings"
	// LabelDoneIfExists on a one-shot service names a path in its mounts whose presence means the job is done:
	// the deployer looks (on a created, never-started container) and does not run it.
	LabelDoneIfExists = "io.m2m.done-if-exists"
)

// ComposeVersion is written in the version label; Compose v2 reads it only for display.
const ComposeVersion = "2.40.3"

// defaultDoneIfExists applies when a one-shot service has no LabelDoneIfExists label: TigerBeetle's format.
var defaultDoneIfExists = map[string]string{"tigerbeetle-format": "/data/0_0.tigerbeetle"}

// alreadyDone says why a guarded one-shot is not run.
func alreadyDone(service, path string) string {
	if defaultDoneIfExists[service] == path {
		return "already formatted: " + path + " exists"
	}
	return "already done: " + path + " exists"
}

// ConfigHash is a digest of everything in s that shapes its container, including the content of the files
// its configs and secrets mount: unchanged → the same hash → the container is kept.
func ConfigHash(p *types.Project, s types.ServiceConfig) (string, error) {
	s.Build = nil
	s.PullPolicy = ""
	s.Scale = nil
	if s.Deploy != nil {
		d := *s.Deploy
		d.Replicas = nil
		s.Deploy = &d
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("hash service %s: %w", s.Name, err)
	}
	h := sha256.New()
	h.Write(b)
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
	switch {
	case obj.File != "":
		f, err := os.Open(obj.File)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(h, f)
		return err
	default:
		io.WriteString(h, obj.Content)
		return nil
	}
}

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
	for _, kv := range strings.Split(s.Labels[LabelPortSettings], ",") {
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
