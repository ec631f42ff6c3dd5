package deployer

import (
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/m2mnet/m2m/stack"
)

// A one-shot is a service that runs to completion (restart "no"). Whether one has nothing left to do is
// decided here only, from the container and the labels the stack put on it, never from a service's name.

// isOneShot reports whether s runs to completion rather than stays up.
func isOneShot(s types.ServiceConfig) bool { return oneShotRestart(s.Restart) }

func oneShotRestart(policy string) bool { return policy == "" || policy == types.RestartPolicyNo }

// doneIfExists is the path whose presence in a one-shot's mounts means its work is done ("" when none).
func doneIfExists(labels map[string]string, restart string) string {
	if !oneShotRestart(restart) {
		return ""
	}
	return labels[stack.LabelDoneIfExists]
}

// finished says whether c is a one-shot with nothing left to do, and in which words: it ran and exited 0
// ("completed"), or its done-if-exists path was found (Done, set by Observe), so it need not run.
func finished(c Container) (string, bool) {
	switch {
	case !oneShotRestart(c.Restart):
		return "", false
	case c.State == stateExited && c.ExitCode == 0:
		return "completed", true
	case c.Done:
		return "already done: " + c.Labels[stack.LabelDoneIfExists] + " exists", true
	}
	return "", false
}

// Container states as the engine names them.
const (
	stateCreated    = "created"
	stateRunning    = "running"
	stateExited     = "exited"
	stateRestarting = "restarting"
	stateDead       = "dead"
)
