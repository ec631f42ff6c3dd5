// Package atomicfile replaces a file so that a reader, or a machine that loses power, sees the old content or
// the new one and never part of either.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNotDurable wraps the error of the final directory fsync: the new file is in place and complete, but a
// power loss right now might bring the old one back. Callers that can live with that test for it.
var ErrNotDurable = errors.New("the rename may not survive a power loss")

// Write puts data at path with mode perm: it writes a temporary file in the same directory (so the rename
// stays on one file system), fsyncs it, renames it over path and fsyncs the directory. The temporary file is
// removed on failure. perm is applied to the file itself, whatever the umask.
func Write(path string, data []byte, perm fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tempPrefix(path)+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm); err == nil {
		if _, err = tmp.Write(data); err == nil {
			err = tmp.Sync()
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	if serr := syncDir(dir); serr != nil {
		return fmt.Errorf("fsync %s after writing %s: %w: %w", dir, filepath.Base(path), ErrNotDurable, serr)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// tempPrefix starts the name of every temporary file Write makes for path.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// RemoveStale deletes the temporary files that Write calls for path left behind when the process died between
// creating and renaming them (path itself is replaced by rename, so it is never partial), and returns how many
// it removed.
func RemoveStale(path string) (int, error) {
	stale, err := filepath.Glob(filepath.Join(filepath.Dir(path), globEscape(tempPrefix(path))+"*"))
	if err != nil {
		return 0, fmt.Errorf("list stale temporary files of %s: %w", path, err)
	}
	n := 0
	for _, f := range stale {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("remove stale temporary file: %w", err)
		}
		n++
	}
	return n, nil
}

// globEscape quotes the characters filepath.Match treats specially.
func globEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', '\\':
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}
