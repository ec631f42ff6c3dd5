// Package testenv decides, once for every test package, whether a test may use the Docker engine here, and
// lets a test binary run as the command it tests.
//
// Two variables steer it, the same for `make test`, `make test-unit` and CI:
//   - M2M_SKIP_DOCKER=1: no test touches the engine (`make test-unit`).
//   - M2M_REQUIRE_DOCKER=1: a test that would be skipped for want of the engine or an installed tool fails
//     instead (CI, where everything is installed).
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// The variables that steer engine tests.
const (
	SkipDockerEnv    = "M2M_SKIP_DOCKER"
	RequireDockerEnv = "M2M_REQUIRE_DOCKER"
)

// Required reports whether M2M_REQUIRE_DOCKER=1: a test must fail rather than skip for want of the engine or a tool.
func Required() bool { return os.Getenv(RequireDockerEnv) == "1" }

// SkipDocker reports whether M2M_SKIP_DOCKER=1: no test may touch the engine.
func SkipDocker() bool { return os.Getenv(SkipDockerEnv) == "1" }

var (
	engineOnce sync.Once
	engineErr  error
)

// EngineErr says why engine tests cannot run here (M2M_SKIP_DOCKER=1, or no engine answers a ping within
// 10 s), or nil when they can. The engine is asked once per test binary.
func EngineErr() error {
	if SkipDocker() {
		return errors.New(SkipDockerEnv + "=1")
	}
	engineOnce.Do(func() { engineErr = ping() })
	return engineErr
}

func ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return fmt.Errorf("docker client (DOCKER_HOST=%q): %w", os.Getenv("DOCKER_HOST"), err)
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return fmt.Errorf("no Docker engine answers (DOCKER_HOST=%q): %w", os.Getenv("DOCKER_HOST"), err)
	}
	return nil
}

// NeedsEngine skips t when engine tests cannot run here, or fails it when M2M_REQUIRE_DOCKER=1.
// Call it first in every test that talks to the Docker engine.
func NeedsEngine(t testing.TB) {
	t.Helper()
	if err := EngineErr(); err != nil {
		Skip(t, "needs the Docker engine: %v", err)
	}
}

// Skip skips t for the reason given, or fails it when M2M_REQUIRE_DOCKER=1, where every dependency a test
// can want (the engine, Debian's prometheus package) is present and a skip would hide a failure.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (%s=1 makes this a failure)", msg, RequireDockerEnv)
	}
	t.Skipf("%s; set %s=1 to fail instead", msg, RequireDockerEnv)
}

// SkipMain is Skip for a TestMain that gates a whole package: it prints the reason and returns the exit code
// (0 skipped, 1 when M2M_REQUIRE_DOCKER=1).
func SkipMain(pkg, format string, args ...any) int {
	msg := fmt.Sprintf(format, args...)
	if Required() {
		fmt.Fprintf(os.Stderr, "%s: FAIL: %s (%s=1)\n", pkg, msg, RequireDockerEnv)
		return 1
	}
	fmt.Printf("%s: skipped: %s; set %s=1 to fail instead\n", pkg, msg, RequireDockerEnv)
	return 0
}
