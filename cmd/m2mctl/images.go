package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"

	"github.com/m2mnet/m2m/bundle"
	"github.com/m2mnet/m2m/stack"
)

func newCmdImages(io *ioStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Carry the stack's images to a host without a registry",
		Long: `images save writes every image the stack uses (all profiles included) into one file; images load checks
that file and loads it on another host, after which 'm2mctl up --pull never' needs no registry.

The file is the archive 'docker save' writes with one more entry at its end, m2m-seal.json: the image names,
IDs and digests, and the SHA-256 of every other entry. 'docker load -i FILE' accepts it as it is.`,
		Example: `  m2mctl images save m2m-images.tar
  scp m2m-images.tar .env other-host:
  m2mctl images load m2m-images.tar && m2mctl up --pull never`,
	}
	cmd.AddCommand(newCmdImagesSave(io), newCmdImagesLoad(io))
	return cmd
}

func newCmdImagesSave(io *ioStreams) *cobra.Command {
	var flags deployFlags
	cmd := &cobra.Command{
		Use:   "save FILE",
		Short: "Write every image the stack uses into FILE",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return imagesSaveRun(cmd.Context(), io, &flags, args[0])
		},
	}
	flags.register(cmd, false)
	return cmd
}

func imagesSaveRun(ctx context.Context, io *ioStreams, flags *deployFlags, path string) error {
	flags.profiles = []string{stack.ProfileTracing, stack.ProfileDiscovery}
	project, err := flags.loadProject(ctx)
	if err != nil {
		return err
	}
	refs := stackImages(project)
	cli, err := connect(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	start := time.Now()
	prog := newByteProgress(io, "saving "+path)
	man, err := bundle.SaveImages(ctx, cli, refs, path, prog.report)
	prog.done()
	var missing *bundle.MissingImagesError
	switch {
	case errors.As(err, &missing):
		return fmt.Errorf("cannot save %s: image(s) %v are not on this host; run `m2mctl up` here first "+
			"(it pulls them, and builds the connector with --connector-binary), then save again", path, missing.Refs)
	case err != nil:
		return fmt.Errorf("save images to %s: %w", path, err)
	}
	for _, img := range man.Images {
		fmt.Fprintf(io.Out, "%s\t%s\n", img.Ref, img.ID)
	}
	fmt.Fprintf(io.ErrOut, "Saved %d image(s) to %s (%s in %s). On the other host: m2mctl images load %s\n",
		len(man.Images), path, humanBytes(prog.last), time.Since(start).Round(100*time.Millisecond), path)
	return nil
}

// stackImages is every image the project's services use, once each, sorted.
func stackImages(p *types.Project) []string {
	seen := map[string]bool{}
	var refs []string
	for _, s := range p.Services {
		if s.Image != "" && !seen[s.Image] {
			seen[s.Image] = true
			refs = append(refs, s.Image)
		}
	}
	sort.Strings(refs)
	return refs
}

func newCmdImagesLoad(io *ioStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "load FILE",
		Short: "Check FILE and load its images into the engine",
		Long: `load reads FILE whole and checks every entry against its seal before the engine sees any of it: a
truncated or modified file loads nothing. Then it loads the images and checks each is present with the ID
it was saved with.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return imagesLoadRun(cmd.Context(), io, args[0]) },
	}
}

func imagesLoadRun(ctx context.Context, io *ioStreams, path string) error {
	cli, err := connect(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	start := time.Now()
	check, send := newByteProgress(io, "checking "+path), newByteProgress(io, "loading "+path)
	man, err := bundle.LoadImages(ctx, cli, path, check.report, func(n int64) { check.done(); send.report(n) })
	check.done()
	send.done()
	var corrupt *bundle.CorruptError
	switch {
	case errors.As(err, &corrupt):
		return fmt.Errorf("refused %s: %s. Nothing was loaded. Copy the file again from the host that saved it "+
			"(compare `sha256sum %s` on both hosts) or save it anew with `m2mctl images save`", corrupt.Path, corrupt.Reason, path)
	case err != nil:
		return err
	}
	for _, img := range man.Images {
		fmt.Fprintf(io.Out, "%s\t%s\n", img.Ref, img.ID)
	}
	fmt.Fprintf(io.ErrOut, "Loaded %d image(s) from %s in %s. Deploy with: m2mctl up --pull never\n",
		len(man.Images), path, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// byteProgress shows a byte count on stderr: one line redrawn on a terminal, a line every few seconds otherwise.
type byteProgress struct {
	mu        sync.Mutex
	out       io.Writer
	live      bool
	label     string
	last      int64
	shown     time.Time
	finished  bool
	printedAt int64
}

func newByteProgress(s *ioStreams, label string) *byteProgress {
	return &byteProgress{out: s.ErrOut, live: s.ProgressIsLive(), label: label, printedAt: -1}
}

func (p *byteProgress) report(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = n
	every := 5 * time.Second
	if p.live {
		every = 200 * time.Millisecond
	}
	if p.finished || n == 0 || time.Since(p.shown) < every {
		return
	}
	p.shown = time.Now()
	p.print()
}

func (p *byteProgress) print() {
	p.printedAt = p.last
	if p.live {
		fmt.Fprintf(p.out, "\r\x1b[K%s: %s", p.label, humanBytes(p.last))
		return
	}
	fmt.Fprintf(p.out, "%s: %s\n", p.label, humanBytes(p.last))
}

// done prints the final count once (if anything was counted) and ends the live line.
func (p *byteProgress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished || p.last == 0 {
		return
	}
	p.finished = true
	if p.printedAt != p.last {
		p.print()
	}
	if p.live {
		fmt.Fprintln(p.out)
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
