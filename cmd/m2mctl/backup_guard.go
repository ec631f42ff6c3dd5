package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// guardCommand is the hidden command a backup starts beside itself, in its own session: if the backup dies
// without saying it finished (kill -9, a lost terminal), the guard starts the stopped services again and
// removes the partial archive. A backup must never leave the node down.
const guardCommand = "__backup-guard"

func newCmdBackupGuard(io *ioStreams) *cobra.Command {
	return &cobra.Command{
		Use:    guardCommand,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return guardRun(context.WithoutCancel(cmd.Context()), io.In, io.ErrOut)
		},
	}
}

// guardRun reads the backup's lines (partial PATH, stopping SERVICE ID, done) until its pipe closes; without
// "done" it undoes what they announced.
func guardRun(ctx context.Context, in io.Reader, errOut io.Writer) error {
	// Its stderr is the backup's, which may be a pipe whose reader died with it: a write there must not kill
	// the guard before it has started the services again.
	signal.Ignore(syscall.SIGPIPE, syscall.SIGHUP)
	var partial string
	type stopped struct{ service, id string }
	var stops []stopped
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		verb, rest, _ := strings.Cut(sc.Text(), " ")
		switch verb {
		case "done":
			return nil
		case "partial": // the rest of the line, spaces and all
			partial = rest
		case "stopping":
			if svc, id, ok := strings.Cut(rest, " "); ok {
				stops = append(stops, stopped{svc, id})
			}
		}
	}
	fmt.Fprintln(errOut, "m2mctl backup was interrupted before it finished.")
	if partial != "" {
		if err := os.Remove(partial); err == nil {
			fmt.Fprintf(errOut, "Removed its partial archive %s.\n", partial)
		}
	}
	if len(stops) == 0 {
		return nil
	}
	cli, err := connect(ctx)
	if err != nil {
		return fmt.Errorf("start the services the backup stopped: %w; run `m2mctl up`", err)
	}
	defer cli.Close()
	// Dependencies first: the reverse of the order they were stopped in. A restart also waits for a stop the
	// backup had asked for and not seen finish.
	var failed []string
	for i := len(stops) - 1; i >= 0; i-- {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		_, err := cli.ContainerRestart(rctx, stops[i].id, client.ContainerRestartOptions{})
		cancel()
		if err != nil {
			failed = append(failed, stops[i].service)
			continue
		}
		fmt.Fprintf(errOut, "Started %s again.\n", stops[i].service)
	}
	if len(failed) > 0 {
		return fmt.Errorf("could not start %v again: run `m2mctl up`", failed)
	}
	return nil
}

// backupGuard is the backup's side of the guard: it implements backup.Guard.
type backupGuard struct {
	mu  sync.Mutex
	w   io.WriteCloser
	cmd *exec.Cmd
}

// startGuard starts the guard process; nil (no guard) inside `go test`, where the executable is a test binary.
func startGuard(errOut io.Writer) (*backupGuard, error) {
	if testing.Testing() {
		return nil, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, guardCommand)
	cmd.Stdout, cmd.Stderr = nil, errOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // not in the terminal's process group: Ctrl-C and kill -9 of the backup spare it
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &backupGuard{w: w, cmd: cmd}, nil
}

func (g *backupGuard) send(line string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, err := io.WriteString(g.w, line+"\n")
	return err
}

// Partial implements backup.Guard.
func (g *backupGuard) Partial(path string) error {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return g.send("partial " + path)
}

// Stopping implements backup.Guard.
func (g *backupGuard) Stopping(service, id string) error {
	return g.send("stopping " + service + " " + id)
}

// finish tells the guard the backup returned (it undid its own changes if it failed) and waits for it to exit.
func (g *backupGuard) finish() {
	if g == nil {
		return
	}
	g.send("done")
	g.w.Close()
	g.cmd.Wait()
}
