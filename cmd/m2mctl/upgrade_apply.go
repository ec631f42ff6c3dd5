package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/internal/atomicfile"
	"github.com/m2mnet/m2m/stack/settings"
	"github.com/m2mnet/m2m/upgrade"
)

// upgradeRequest is what upgradeRun decided: the .env as read, the images that run and the ones to run.
type upgradeRequest struct {
	values, fromValues, toValues settings.Values
	from, to                     *types.Project
	dopts                        deployer.Options
	backup                       string // "" with --no-backup
	changes                      []upgrade.Change
}

func applyUpgrade(ctx context.Context, opts *upgradeOptions, target deployer.Target, req upgradeRequest) error {
	// The rollback gets progress lines of its own, timed from its start.
	rep := &switchReporter{to: newProgress(opts.io, "text")}
	start := time.Now()
	res, err := upgrade.Run(ctx, target, req.from, req.to, upgrade.Options{
		Up:          deployer.UpOptions{Options: req.dopts, WaitTimeout: opts.waitTimeout, Reporter: rep},
		ForwardOnly: ledgerReplicas(),
		Rollback: func(cause error) {
			rep.switchTo(func() *progress {
				fmt.Fprintf(opts.io.ErrOut, "Upgrade failed (%s); putting the previous images back.\n", firstLine(cause.Error()))
				return newProgress(opts.io, "text")
			})
		},
	})
	rep.stop()
	final := req.toValues
	if err != nil {
		final = maps.Clone(req.fromValues)
		for _, k := range res.Kept {
			for _, is := range imageSettings {
				if slices.Contains(is.services, k.Service) {
					final[is.setting] = req.toValues[is.setting]
				}
			}
		}
	}
	if werr := writeImagePins(opts, req.values, final); werr != nil {
		err = errors.Join(err, werr)
	}
	var rb *upgrade.RolledBackError
	if !errors.As(err, &rb) {
		if err != nil {
			return err
		}
		fmt.Fprintf(opts.io.ErrOut, "Upgraded project %s in %s%s.\n", req.to.Name, time.Since(start).Round(100*time.Millisecond), downtimes(res.Down))
		return nil
	}
	return rollbackReport(opts, req, rb)
}

// rollbackReport is the error an upgrade that was rolled back exits with: the failure in full (the service's
// last health check and log lines), what runs now, and where the backup is.
func rollbackReport(opts *upgradeOptions, req upgradeRequest, rb *upgrade.RolledBackError) error {
	var b strings.Builder
	cause := rb.Cause
	if errors.Is(cause, deployer.ErrInterrupted) {
		cause = errors.New("interrupted")
	}
	fmt.Fprintf(&b, "upgrade of project %s failed: %v\n", req.to.Name, explainDeployError(cause))
	if rb.RollbackErr != nil {
		fmt.Fprintf(&b, "Rolling back to the previous images failed too: %v\n", explainDeployError(rb.RollbackErr))
		if req.backup != "" {
			fmt.Fprintf(&b, "The backup taken before the upgrade is %s: `m2mctl down -p %s && m2mctl restore -p %s --force %s` "+
				"brings the ledger back as it was.", req.backup, req.to.Name, req.to.Name, req.backup)
		}
		return errors.New(strings.TrimRight(b.String(), "\n"))
	}
	var back []string
	for _, c := range req.changes {
		if !slices.ContainsFunc(rb.Kept, func(k upgrade.Change) bool { return k.Service == c.Service }) {
			back = append(back, fmt.Sprintf("%s runs %s again", c.Service, c.From))
		}
	}
	fmt.Fprintf(&b, "Rolled back: %s.", strings.Join(back, ", "))
	for _, k := range rb.Kept {
		fmt.Fprintf(&b, " %s stays on %s: it was healthy on it, and TigerBeetle data files move forward only", k.Service, k.To)
		if req.backup != "" {
			fmt.Fprintf(&b, " (the backup %s, restored with its release, goes back)", req.backup)
		}
		b.WriteString(".")
	}
	if req.backup != "" && len(rb.Kept) == 0 {
		fmt.Fprintf(&b, " The ledger was not changed; the backup taken before is %s.", req.backup)
	}
	return errors.New(b.String())
}

func downtimes(down map[string]time.Duration) string {
	var parts []string
	for _, svc := range slices.Sorted(maps.Keys(down)) {
		parts = append(parts, fmt.Sprintf("%s %s", svc, down[svc].Round(10*time.Millisecond)))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; not serving while recreated: " + strings.Join(parts, ", ")
}

// writeImagePins makes the .env name the images in final where what it says now (values, defaults applied)
// differs, so that `m2mctl up` and `docker compose up` keep what runs.
func writeImagePins(opts *upgradeOptions, values, final settings.Values) error {
	pins := map[string]string{}
	for _, is := range imageSettings {
		if final[is.setting] != "" && final[is.setting] != values[is.setting] {
			pins[is.setting] = final[is.setting]
		}
	}
	if len(pins) == 0 {
		return nil
	}
	if err := setEnvValues(opts.flags.envFile, pins); err != nil {
		return fmt.Errorf("the stack runs the images, but %s could not be updated: %w; set %v there by hand", opts.flags.envFile, err, pins)
	}
	for _, k := range slices.Sorted(maps.Keys(pins)) {
		fmt.Fprintf(opts.io.ErrOut, "%s: %s=%s\n", opts.flags.envFile, k, pins[k])
	}
	return nil
}

// setEnvValues sets keys in the .env at path and leaves every other line as it is: the line that sets a key
// (under its name or an alias) is replaced, else a commented-out `# KEY=` line, else the key is appended.
func setEnvValues(path string, kv map[string]string) error {
	body, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimRight(string(body), "\n"), "\n")
	for _, key := range slices.Sorted(maps.Keys(kv)) {
		line := key + "=" + kv[key]
		set, commented := -1, -1
		for i, l := range lines {
			t := strings.TrimPrefix(strings.TrimSpace(l), "export ")
			k, _, ok := strings.Cut(t, "=")
			if name, known := settings.Canonical(strings.TrimSpace(k)); ok && known && name == key && !strings.HasPrefix(t, "#") {
				set = i
			} else if commented < 0 && commentedKey(key).MatchString(l) {
				commented = i
			}
		}
		switch {
		case set >= 0:
			lines[set] = line
		case commented >= 0:
			lines[commented] = line
		default:
			lines = append(lines, line)
		}
	}
	mode := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	err = atomicfile.Write(path, []byte(strings.Join(lines, "\n")+"\n"), mode)
	if errors.Is(err, atomicfile.ErrNotDurable) {
		return nil
	}
	return err
}

func commentedKey(key string) *regexp.Regexp {
	return regexp.MustCompile(`^#\s*` + regexp.QuoteMeta(key) + `=`)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// switchReporter passes events to one progress display, which switchTo replaces (stopping the old one).
type switchReporter struct {
	mu sync.Mutex
	to *progress
}

func (s *switchReporter) Report(e deployer.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.to.Report(e)
}

func (s *switchReporter) switchTo(next func() *progress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.to.stop()
	s.to = next()
}

func (s *switchReporter) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.to.stop()
}
