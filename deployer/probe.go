package deployer

import (
	"context"
	"io"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// An engine on API 1.41 (no start_interval) runs a container's first health check only after `interval`, so a
// chain of service_healthy dependencies would wait one interval per link. While a dependent waits, the deployer
// runs the dependency's own health test itself, the way the engine will (exec in the container, same command,
// bounded by the same timeout), and the first pass lets dependents start. The engine's verdict still rules
// everything else: unhealthy or exit fails as before, and up's end state waits for the engine's own healthy.

// probeEvery is the pause between two of the deployer's own runs of a health test.
const probeEvery = 250 * time.Millisecond

// defaultProbeTimeout is the engine's timeout for a health test that sets none.
const defaultProbeTimeout = 30 * time.Second

// waitedOnHealthy reports whether some service of p waits for service name with service_healthy.
func waitedOnHealthy(p *types.Project, name string) bool {
	for _, other := range p.Services {
		if dep, ok := other.DependsOn[name]; ok && dep.Condition == types.ServiceConditionHealthy {
			return true
		}
	}
	return false
}

// probeCommand is what the engine execs for hc: the CMD form as it is, the CMD-SHELL form under the container's
// shell (/bin/sh -c unless the image sets another). It is nil when there is no test to run.
func probeCommand(hc *container.HealthConfig, shell []string) []string {
	if hc == nil || len(hc.Test) < 2 {
		return nil
	}
	switch hc.Test[0] {
	case "CMD":
		return hc.Test[1:]
	case "CMD-SHELL":
		if len(shell) == 0 {
			shell = []string{"/bin/sh", "-c"}
		}
		return append(append([]string{}, shell...), hc.Test[1:]...)
	}
	return nil
}

// probeHealth runs container id's health test now and then every probeEvery until it passes once (service is
// then marked probed in t), the engine gives its own verdict, the container stops, or ctx ends.
func (d *Deployer) probeHealth(ctx context.Context, service, id string, t *tracker) {
	if !t.needsProbe(service, id) {
		return
	}
	res, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil || res.Container.Config == nil {
		return
	}
	cfg := res.Container.Config
	cmd := probeCommand(cfg.Healthcheck, cfg.Shell)
	if cmd == nil {
		return
	}
	timeout := defaultProbeTimeout
	if cfg.Healthcheck.Timeout > 0 {
		timeout = cfg.Healthcheck.Timeout
	}
	pause := time.NewTimer(0)
	defer pause.Stop()
	for t.needsProbe(service, id) {
		if d.runProbe(ctx, id, cmd, timeout) {
			t.markProbed(service, id)
			return
		}
		changed := t.changes()
		pause.Reset(probeEvery)
		select {
		case <-pause.C:
		case <-changed: // the engine may have given its verdict: look again at once
		case <-ctx.Done():
			return
		}
	}
}

// runProbe execs cmd in container id and reports whether it exited 0 within timeout. Any failure to run it
// (container not running yet, command missing) is a fail: the next round or the engine decides.
func (d *Deployer) runProbe(ctx context.Context, id string, cmd []string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ex, err := d.cli.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return false
	}
	att, err := d.cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return false
	}
	defer att.Close()
	// The stream ends when the test exits; closing the connection ends the read on timeout.
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()
	io.Copy(io.Discard, att.Reader)
	// The exit code is recorded just after the stream ends; a nil code reads as 0, so only a finished exec
	// that really ran (it has a pid) counts.
	for ctx.Err() == nil {
		st, err := d.cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
		if err != nil {
			return false
		}
		if !st.Running {
			return st.ExitCode == 0 && st.PID > 0
		}
		wait := time.NewTimer(10 * time.Millisecond)
		select {
		case <-wait.C:
		case <-ctx.Done():
			wait.Stop()
		}
	}
	return false
}
