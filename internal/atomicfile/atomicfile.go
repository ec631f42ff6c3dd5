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
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
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
