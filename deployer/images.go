package deployer

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/client"
)

// Pull policies for Options.Pull.
const (
	PullMissing = "missing"
	PullAlways  = "always"
	PullNever   = "never"
)

// planImages decides, per image the project uses, whether it is present, pulled or built; ids holds the
// local image ID of each present image.
func (d *Deployer) planImages(ctx context.Context, project *types.Project, opts Options) ([]ResourceStep, map[string]string, error) {
	policy := opts.Pull
	if policy == "" {
		policy = PullMissing
	}
	switch policy {
	case PullMissing, PullAlways, PullNever:
	default:
		return nil, nil, fmt.Errorf("pull policy %q: use missing, always or never", policy)
	}
	seen := map[string]bool{}
	var steps []ResourceStep
	ids := map[string]string{}
	for _, name := range sortedKeys(project.Services) {
		ref := project.Services[name].Image
		if ref == "" {
			return nil, nil, fmt.Errorf("service %s has no image: set image: in the project", name)
		}
		if seen[ref] {
			continue
		}
		seen[ref] = true
		res, err := d.cli.ImageInspect(ctx, ref)
		present := err == nil
		if err != nil && !isNotFound(err) {
			return nil, nil, fmt.Errorf("inspect image %s: %w", ref, Explain(err))
		}
		if present {
			ids[ref] = res.ID
		}
		bin, local := opts.BuildFromBinary[ref], opts.LocalOnly[ref]
		step := ResourceStep{Kind: "image", Name: ref}
		switch {
		case present && (policy != PullAlways || local != ""):
			step.Action = "present"
		case !present && bin != "":
			step.Action, step.Reason = "build", "absent; built FROM scratch from "+bin
		case !present && local != "":
			step.Action, step.Reason = "missing", "absent and never pulled"
		case policy == PullNever:
			step.Action, step.Reason = "missing", "absent and the pull policy is never"
			if present {
				step.Action, step.Reason = "present", ""
			}
		default:
			step.Action, step.Reason = "pull", "absent"
			if present {
				step.Reason = "pull policy always"
			}
		}
		steps = append(steps, step)
	}
	return steps, ids, nil
}

// ensureImages pulls and builds what the plan says, in parallel.
func (d *Deployer) ensureImages(ctx context.Context, plan *Plan, opts Options, r Reporter) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(plan.Resources))
	for _, step := range plan.Resources {
		if step.Kind != "image" {
			continue
		}
		switch step.Action {
		case "present":
			report(r, Event{Kind: "image", Name: step.Name, Status: StatusPresent, Final: true})
		case "missing":
			return &ImageMissingError{Image: step.Name, Hint: opts.LocalOnly[step.Name]}
		case "build":
			wg.Add(1)
			go func(ref string) {
				defer wg.Done()
				report(r, Event{Kind: "image", Name: ref, Status: StatusBuilding})
				if err := BuildImageFromBinary(ctx, d.cli, opts.BuildFromBinary[ref], ref); err != nil {
					errs <- err
					return
				}
				report(r, Event{Kind: "image", Name: ref, Status: StatusBuilt, Final: true})
			}(step.Name)
		case "pull":
			wg.Add(1)
			go func(ref string) {
				defer wg.Done()
				if err := d.pull(ctx, ref, r); err != nil {
					errs <- err
				}
			}(step.Name)
		}
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// pull pulls ref, reporting the bytes downloaded over all layers.
func (d *Deployer) pull(ctx context.Context, ref string, r Reporter) error {
	report(r, Event{Kind: "image", Name: ref, Status: StatusPulling})
	resp, err := d.cli.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return pullError(ref, err)
	}
	layers := map[string][2]int64{}
	for m, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return pullError(ref, err)
		}
		if m.Error != nil {
			return pullError(ref, fmt.Errorf("%s", m.Error.Message))
		}
		if m.Progress != nil && m.ID != "" && strings.HasPrefix(m.Status, "Downloading") {
			layers[m.ID] = [2]int64{m.Progress.Current, m.Progress.Total}
			var cur, total int64
			for _, l := range layers {
				cur, total = cur+l[0], total+l[1]
			}
			report(r, Event{Kind: "image", Name: ref, Status: StatusPulling, Current: cur, Total: total})
		}
	}
	report(r, Event{Kind: "image", Name: ref, Status: StatusPulled, Final: true})
	return nil
}

func pullError(ref string, err error) error {
	if e := Explain(err); e != err {
		return e
	}
	return &PullError{Image: ref, Err: err}
}
