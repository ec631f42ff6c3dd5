package main

import (
	"io"
	"os"

	"golang.org/x/term"
)

// ioStreams is where a command reads and writes; tests give fake streams and read what was printed.
// Data goes to Out, progress and errors to ErrOut.
type ioStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	inTTY, errTTY bool
	noColor       bool
}

func systemStreams() *ioStreams {
	isTTY := func(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
	_, noColor := os.LookupEnv("NO_COLOR")
	return &ioStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		inTTY: isTTY(os.Stdin), errTTY: isTTY(os.Stderr),
		noColor: noColor || os.Getenv("TERM") == "dumb",
	}
}

// IsInteractive reports whether a person can answer prompts: both stdin and stderr are terminals.
func (s *ioStreams) IsInteractive() bool { return s.inTTY && s.errTTY }

// ProgressIsLive reports whether progress may redraw lines in place (stderr is a terminal).
func (s *ioStreams) ProgressIsLive() bool { return s.errTTY }
