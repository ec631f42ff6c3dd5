// Package standin builds the images that stand in for TigerBeetle, Grafana and Prometheus in tests on hosts
// where no registry is reachable: FROM scratch, with a small program (or Debian's Prometheus) and a static
// busybox so that health checks and `sh -c` work as they do in the real Alpine/busybox-based images.
package standin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/m2mnet/m2m/deployer"
)

// BusyboxPath is Debian's statically linked busybox (package busybox-static).
const BusyboxPath = "/bin/busybox"

// busyboxApplets are linked into /bin: what health checks and one-shot commands call.
var busyboxApplets = []string{"sh", "nc", "wget", "test", "[", "mv", "rm", "cat", "echo", "ls", "sleep", "timeout", "sha256sum", "true", "false", "env"}

// BuildTigerBeetle builds the TigerBeetle stand-in image (entrypoint /tigerbeetle, as the real one runs it).
func BuildTigerBeetle(ctx context.Context, cli deployer.ImageBuilder, tag string) error {
	return buildProgram(ctx, cli, "tigerbeetle", "/tigerbeetle", tag, nil)
}

// BuildGrafana builds the Grafana stand-in image: GET /api/health on :3000.
func BuildGrafana(ctx context.Context, cli deployer.ImageBuilder, tag string) error {
	return buildProgram(ctx, cli, "grafana", "/grafana", tag, nil)
}

// BuildPrometheus builds a Prometheus image from this host's /usr/bin/prometheus (Debian's package) and the
// C library and loader it links, with the official image's entrypoint and default flags.
func BuildPrometheus(ctx context.Context, cli deployer.ImageBuilder, tag string) error {
	const bin = "/usr/bin/prometheus"
	files, err := withLibs(bin, "/bin/prometheus")
	if err != nil {
		return err
	}
	files = append(files,
		deployer.ImageFile{Path: "/etc/prometheus/prometheus.yml", Mode: 0o644, Body: []byte("global:\n  scrape_interval: 15s\n")},
		deployer.ImageFile{Path: "/prometheus", Dir: true, Mode: 0o777})
	bb, err := busybox()
	if err != nil {
		return err
	}
	return deployer.BuildScratchImage(ctx, cli, deployer.ScratchImage{
		Tag: tag, Files: append(files, bb...), Entrypoint: []string{"/bin/prometheus"},
		Cmd: []string{"--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"},
	})
}

// BuildBinary compiles the stand-in program name (a folder under test/standin) as a static Linux binary into
// dir and returns its path.
func BuildBinary(ctx context.Context, name, dir string) (string, error) {
	_, self, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(self), name)
	out := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", src, err, b)
	}
	return out, nil
}

func buildProgram(ctx context.Context, cli deployer.ImageBuilder, name, at, tag string, cmd []string) error {
	dir, err := os.MkdirTemp("", "standin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := BuildBinary(ctx, name, dir)
	if err != nil {
		return err
	}
	body, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	bb, err := busybox()
	if err != nil {
		return err
	}
	files := append(bb, deployer.ImageFile{Path: at, Body: body}, deployer.ImageFile{Path: "/data", Dir: true})
	return deployer.BuildScratchImage(ctx, cli, deployer.ScratchImage{Tag: tag, Files: files, Entrypoint: []string{at}, Cmd: cmd})
}

func busybox() ([]deployer.ImageFile, error) {
	body, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return nil, fmt.Errorf("stand-in images need a static busybox at %s (apt-get install busybox-static): %w", BusyboxPath, err)
	}
	files := []deployer.ImageFile{{Path: "/bin/busybox", Body: body}, {Path: "/tmp", Dir: true, Mode: 0o1777}}
	for _, a := range busyboxApplets {
		files = append(files, deployer.ImageFile{Path: "/bin/" + a, Link: "busybox"})
	}
	return files, nil
}

// withLibs returns bin (placed at at) and the shared objects `ldd` lists for it, at their host paths.
func withLibs(bin, at string) ([]deployer.ImageFile, error) {
	body, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("read %s (apt-get install prometheus): %w", bin, err)
	}
	files := []deployer.ImageFile{{Path: at, Body: body}}
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		var lib string
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 3 && fields[1] == "=>" && strings.HasPrefix(fields[2], "/"):
			lib = fields[2]
		case len(fields) >= 1 && strings.HasPrefix(fields[0], "/"):
			lib = fields[0]
		default:
			continue
		}
		b, err := os.ReadFile(lib)
		if err != nil {
			return nil, fmt.Errorf("read %s, needed by %s: %w", lib, bin, err)
		}
		files = append(files, deployer.ImageFile{Path: lib, Body: b})
	}
	return files, nil
}
