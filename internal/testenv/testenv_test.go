package testenv_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/m2mnet/m2m/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.CommandMain("testenv-greeter", func() {
		fmt.Print("hello from ", strings.Join(os.Args[1:], " "))
		os.Exit(3)
	})
	os.Exit(m.Run())
}

func TestCommandRunsTheTestBinaryAsTheCommand(t *testing.T) {
	out, err := exec.Command(testenv.Command(t, "testenv-greeter"), "a", "b").Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 || string(out) != "hello from a b" {
		t.Fatalf("exit %v, output %q; want exit 3 and the command's own output", err, out)
	}
}

func TestSkipDockerMeansNoEngine(t *testing.T) {
	t.Setenv(testenv.SkipDockerEnv, "1")
	if err := testenv.EngineErr(); err == nil || !strings.Contains(err.Error(), "M2M_SKIP_DOCKER=1") {
		t.Fatalf("EngineErr() = %v; want one naming M2M_SKIP_DOCKER=1", err)
	}
}

func TestSkipMainFailsOnlyWhenRequired(t *testing.T) {
	t.Setenv(testenv.RequireDockerEnv, "")
	if code := testenv.SkipMain("pkg", "no engine"); code != 0 {
		t.Fatalf("not required: exit %d; want 0", code)
	}
	t.Setenv(testenv.RequireDockerEnv, "1")
	if code := testenv.SkipMain("pkg", "no engine"); code != 1 {
		t.Fatalf("required: exit %d; want 1", code)
	}
}
