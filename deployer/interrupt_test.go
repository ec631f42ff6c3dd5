package deployer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/deployer"
)

// An interrupt during up leaves a stack that the next up finishes; a format killed half-way leaves only its
// temp file, which the next up's format replaces, so TigerBeetle (whose stand-in refuses a partial file) starts.
func TestInterruptedUpAndKilledFormatAreFinishedByTheNextUp(t *testing.T) {
	s := newTestStack(t)
	ctx := testCtx(t)
	slow := strings.Replace(s.yaml, "    volumes: [tigerbeetle-data:/data]\n    restart: \"no\"",
		"    volumes: [tigerbeetle-data:/data]\n    restart: \"no\"\n    environment: {STANDIN_FORMAT_SLEEP: 60s}", 1)
	if slow == s.yaml {
		t.Fatal("test YAML did not take the slow-format setting")
	}
	fast := s.yaml
	s.yaml = slow

	upCtx, interrupt := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := s.up(upCtx); done <- err }()
	deadline := time.Now().Add(30 * time.Second)
	for !s.sawEvent("tigerbeetle-format", deployer.StatusStarted) {
		if time.Now().After(deadline) {
			t.Fatal("format never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the format is now half-way, sleeping
	interrupt()
	select {
	case err := <-done:
		if !errors.Is(err, deployer.ErrInterrupted) {
			t.Fatalf("interrupted up returned %v, want ErrInterrupted", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("up did not return within 10s of the interrupt")
	}
	if st := s.statuses(ctx)["tigerbeetle"]; st.State == "running" {
		t.Errorf("tigerbeetle was started although its dependency never completed: %+v", st)
	}
	// The host goes down mid-format: the one-shot dies and leaves its partial temp file.
	if _, err := s.cli.ContainerKill(ctx, s.containerID(ctx, "tigerbeetle-format"), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}

	s.yaml = fast
	plan := s.mustUp(ctx)
	if a := actions(plan)["tigerbeetle-format"]; a != deployer.ActionRecreate {
		t.Errorf("format action %s, want recreate (its settings changed)", a)
	}
	if st := s.statuses(ctx)["tigerbeetle"]; st.Health != "healthy" {
		t.Errorf("tigerbeetle after the redone format: %+v, want healthy on a complete data file", st)
	}
}

func TestPullFailureIsOneLineWithTheFix(t *testing.T) {
	s := newTestStack(t)
	ctx := testCtx(t)
	s.yaml = strings.Replace(s.yaml, "image: {{GRAFANA}}", "image: "+s.name+".invalid/nothing:1", 1)
	p := s.project()
	pctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	_, err := s.d.Up(pctx, p, deployer.UpOptions{Options: deployer.Options{Pull: deployer.PullMissing}})
	if err == nil {
		t.Fatal("up succeeded with an image that cannot be pulled")
	}
	msg := err.Error()
	var pe *deployer.PullError
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "pull "+s.name+".invalid/nothing:1 failed") || !strings.Contains(msg, "docker load") {
		t.Errorf("pull failure %q: want one line naming the image and the fix", msg)
	} else if !errors.As(err, &pe) || pe.Image != s.name+".invalid/nothing:1" {
		t.Errorf("pull failure %q is not a PullError naming the image (the command adds its flag)", msg)
	}
	_, err = s.d.Up(ctx, p, deployer.UpOptions{Options: deployer.Options{Pull: deployer.PullNever}})
	var me *deployer.ImageMissingError
	if !errors.As(err, &me) || me.Image != s.name+".invalid/nothing:1" || !strings.Contains(err.Error(), "is not on this host") {
		t.Errorf("with pull policy never: %v, want an ImageMissingError naming the image", err)
	}
}

func TestLocalOnlyImageIsNeverPulled(t *testing.T) {
	s := newTestStack(t)
	ctx := testCtx(t)
	ref := s.name + "/connector:local"
	s.yaml = strings.Replace(s.yaml, "image: {{GRAFANA}}", "image: "+ref, 1)
	p := s.project()
	opts := deployer.Options{Pull: deployer.PullAlways, LocalOnly: map[string]string{ref: "run make image-local"}}
	plan, err := s.d.Plan(ctx, p, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range plan.Resources {
		if step.Kind == "image" && step.Name == ref && step.Action != "missing" {
			t.Errorf("plan for absent local-only image %s: %s (%s), want missing", ref, step.Action, step.Reason)
		}
	}
	_, err = s.d.Up(ctx, p, deployer.UpOptions{Options: opts})
	if err == nil || !strings.Contains(err.Error(), "is never pulled: run make image-local") || strings.Contains(err.Error(), "pull "+ref) {
		t.Errorf("up with an absent local-only image: %v, want it named as never pulled, with the hint, and no pull tried", err)
	}
}
