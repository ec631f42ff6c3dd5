package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/m2mnet/m2m/deployer"

	"github.com/m2mnet/m2m/internal/testenv"
)

// env is what TestMain prepared for every scenario: binaries, images and the EVM stand-in.
// It is set once before any test runs and only read afterwards.
var env *harness

type harness struct {
	root      string // the repository
	binDir    string // holds the binaries; removed at the end
	m2mctl    string // host binary
	connector string // static binary, as in the image
	cli       *dockerClient
	images    images
	evm       *evmStandin
	runID     string
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// Ryuk would be an image pull; every scenario cleans up after itself instead.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	skip := func(format string, a ...any) int { return testenv.SkipMain("e2e", format, a...) }
	if testenv.SkipDocker() {
		return skip("%s=1", testenv.SkipDockerEnv)
	}
	if testing.Short() {
		return skip("-short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// testcontainers logs to stdout by default; helpers log into their test instead.
	tclog.SetDefault(quiet{})
	// The engine m2mctl would use (DOCKER_HOST, else the default socket) decides: testcontainers would fall back
	// to other places to look for one.
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	probe, err := deployer.Connect(cctx)
	if err != nil {
		ccancel()
		return skip("no Docker engine answers (%v)", firstLine(err.Error()))
	}
	probe.Close()
	cli, err := testcontainers.NewDockerClientWithOpts(cctx)
	ccancel()
	if err != nil {
		return skip("testcontainers cannot use the Docker engine (%v)", firstLine(err.Error()))
	}
	defer cli.Close()

	h := &harness{root: repoRoot(), cli: cli, runID: randomHex(3)}
	start := time.Now()
	if err := h.prepare(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: setup failed: %v\n", err)
		h.close()
		return 1
	}
	fmt.Printf("e2e: setup (binaries, images, stand-ins) took %s; images: %s\n", time.Since(start).Round(100*time.Millisecond), h.images)
	env = h
	code := m.Run()
	h.close()
	return code
}

// prepare builds the binaries, then the images, and starts the EVM JSON-RPC stand-in.
func (h *harness) prepare(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "m2me2e-bin-")
	if err != nil {
		return err
	}
	h.binDir = dir
	h.m2mctl = filepath.Join(dir, "m2mctl")
	h.connector = filepath.Join(dir, "m2m-connector")
	if err := h.goBuild(ctx, h.m2mctl, "./cmd/m2mctl", nil); err != nil {
		return err
	}
	// The connector links TigerBeetle's C client: fully static, as deploy/build-local.sh builds it.
	if _, err := exec.LookPath("gcc"); err != nil {
		return fmt.Errorf("the static connector is a cgo build and needs gcc and a static libc: apt-get install gcc libc6-dev")
	}
	if err := h.goBuild(ctx, h.connector, "./cmd/m2m-connector",
		[]string{"CGO_ENABLED=1", "GOOS=linux"},
		"-tags", "netgo,osusergo", "-ldflags", "-s -w -X main.version=e2e -linkmode external -extldflags -static"); err != nil {
		return err
	}
	if h.images, err = prepareImages(ctx, h.cli, h.root, h.connector, "m2me2e-"+h.runID); err != nil {
		return err
	}
	h.evm, err = startEVMStandin(ctx, h.cli)
	return err
}

// close stops the stand-in and removes what prepare made.
func (h *harness) close() {
	h.evm.Close()
	h.images.remove(context.Background(), h.cli)
	if h.binDir != "" {
		os.RemoveAll(h.binDir)
	}
}

func (h *harness) goBuild(ctx context.Context, out, pkg string, extraEnv []string, flags ...string) error {
	args := append([]string{"build", "-trimpath", "-o", out}, flags...)
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Dir = h.root
	cmd.Env = append(os.Environ(), extraEnv...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

func repoRoot() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..")
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

// dockerClient is testcontainers' client: the moby client the deployer uses too, plus its configuration.
type dockerClient = testcontainers.DockerClient

// fromEnv reports whether the image named by the environment variable was given rather than built.
func fromEnv(name string) bool { return os.Getenv(name) != "" }

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// quiet is a testcontainers logger that drops what it is told.
type quiet struct{}

func (quiet) Printf(string, ...any) {}
