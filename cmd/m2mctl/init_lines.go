package main

import (
	"bufio"
	"errors"
	"io"
	"sync"
)

// lineReader hands out at most one line per Read. huh's accessible prompts each wrap the input in a new
// bufio.Scanner, which would swallow the answers to later questions when the input is a file or a pipe
// holding several lines at once. It also records whether the input has ended.
type lineReader struct {
	r       *bufio.Reader
	pending []byte // the rest of a line that did not fit in the caller's buffer
	lines   int    // lines (or a final unterminated line) handed out
	eof     bool
}

func newLineReader(r io.Reader) *lineReader { return &lineReader{r: bufio.NewReader(r)} }

func (l *lineReader) Read(p []byte) (int, error) {
	if len(l.pending) == 0 {
		if l.eof {
			return 0, io.EOF
		}
		line, err := l.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			err = nil // a very long line: hand it out in pieces
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return 0, err
			}
			l.eof = true
			if len(line) == 0 {
				return 0, io.EOF
			}
		}
		l.lines++
		l.pending = append(l.pending[:0], line...)
	}
	n := copy(p, l.pending)
	l.pending = l.pending[n:]
	return n, nil
}

// detachableWriter lets a goroutine that may outlive its caller write until detach; later writes are dropped.
// The accessible wizard runs in such a goroutine because a blocked read of stdin cannot be interrupted.
type detachableWriter struct {
	mu       sync.Mutex
	w        io.Writer
	detached bool
}

func (d *detachableWriter) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.detached {
		return len(p), nil
	}
	return d.w.Write(p)
}

func (d *detachableWriter) detach() {
	d.mu.Lock()
	d.detached = true
	d.mu.Unlock()
}
