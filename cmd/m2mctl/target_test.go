package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/internal/testenv"
)

// The deployer's typed errors carry values only; the command names the flag or setting that changes the outcome.
func TestDeployErrorsNameTheFlagOrSetting(t *testing.T) {
	engine := errors.New("Bind for 0.0.0.0:4000 failed: port is already allocated")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"wait timeout", fmt.Errorf("up: %w", &deployer.WaitTimeoutError{Timeout: 3 * time.Minute, Pending: []string{"connector not yet healthy"}}),
			"services not ready after --wait-timeout 3m0s: connector not yet healthy"},
		{"port with its setting", &deployer.PortInUseError{Service: "connector", HostIP: "0.0.0.0", Port: "4000", Setting: "BTP_PORT", Err: engine},
			"port 4000 is already in use on 0.0.0.0 (service connector); set BTP_PORT in .env to a free port"},
		{"port without a setting", &deployer.PortInUseError{Service: "extra", HostIP: "0.0.0.0", Port: "4000", Err: engine},
			"publish service extra on another host port"},
		{"image with pull policy never", &deployer.ImageMissingError{Image: "grafana/grafana:11.2.0"},
			"image grafana/grafana:11.2.0 is not on this host and --pull never forbids pulling it"},
		{"image never pulled keeps its hint", &deployer.ImageMissingError{Image: "m2m/connector:0.1.0", Hint: "run `make image-local`"},
			"is never pulled: run `make image-local`"},
		{"pull failure", &deployer.PullError{Image: "x.invalid/y:1", Err: errors.New("no such host")},
			"pull x.invalid/y:1 failed: no such host; check that this host reaches the registry (proxy, DNS, login), or bring the stack's images on a file: `m2mctl images save FILE` on a host that has them, `m2mctl images load FILE` here, then run with --pull never"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := explainDeployError(tc.err).Error()
			if !strings.Contains(got, tc.want) || strings.Contains(got, "\n") {
				t.Errorf("message %q, want one line containing %q", got, tc.want)
			}
		})
	}
	if other := errors.New("something else"); explainDeployError(other) != other {
		t.Error("an error the deployer did not type was changed")
	}
}

// countingTarget is the real engine target; it counts how often a command closes it.
type countingTarget struct {
	deployer.Target
	closed *atomic.Int32
}

func (c countingTarget) Close() error {
	c.closed.Add(1)
	return c.Target.Close()
}

// Every deploy command gets its target from the one constructor it is given, and closes it.
func TestDeployCommandsUseAndCloseTheTargetTheyAreGiven(t *testing.T) {
	testenv.NeedsEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := make([]byte, 4)
	rand.Read(b)
	project := "m2mtest-" + hex.EncodeToString(b)
	var opened, closed atomic.Int32
	open := func(ctx context.Context) (deployer.Target, error) {
		target, err := openEngine(ctx)
		if err != nil {
			return nil, err
		}
		opened.Add(1)
		return countingTarget{Target: target, closed: &closed}, nil
	}
	for _, args := range [][]string{{"status"}, {"logs"}, {"down"}} {
		var out, errOut bytes.Buffer
		root := newRootCmd(&ioStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, open)
		root.SetArgs(append(args, "-p", project, "--env-file", t.TempDir()+"/.env"))
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.ExecuteContext(ctx)
		if args[0] == "status" && !strings.Contains(out.String(), "Nothing of project "+project) {
			t.Errorf("status through the given target printed %q, want that nothing of %s runs", out.String(), project)
		}
	}
	if opened.Load() != 3 || closed.Load() != 3 {
		t.Errorf("targets opened %d, closed %d; want 3 and 3 (status, logs, down)", opened.Load(), closed.Load())
	}
}
