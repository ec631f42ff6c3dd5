package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/m2mnet/m2m/internal/atomicfile"
)

// errEnvExists means the .env is there and --force was not given.
var errEnvExists = errors.New("already exists")

// errNoDir means the directory of the output file is missing.
var errNoDir = errors.New("does not exist")

// checkWritable fails early, before any question, when path exists and may not be replaced.
func checkWritable(path string, force bool) error {
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return fmt.Errorf("cannot write %s: its directory %s %w; create it or pick another --output",
			path, filepath.Dir(path), errNoDir)
	}
	_, err := os.Lstat(path)
	switch {
	case err == nil && !force:
		return fmt.Errorf("%s %w; pass --force to replace it (the old one is kept as %s.bak-<timestamp>), or --output to write elsewhere",
			path, errEnvExists, filepath.Base(path))
	case err == nil, errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return fmt.Errorf("check %s: %w", path, err)
	}
}

// writeEnvFile puts data at path with mode 0600, atomically (internal/atomicfile), so a reader sees the old
// file or the new one and never half of either. With force, an existing file is
// first copied to path.bak-<UTC timestamp> (0600 too); backup is "" when there was nothing to keep.
func writeEnvFile(path string, data []byte, force bool, now time.Time) (backup string, err error) {
	if err := checkWritable(path, force); err != nil {
		return "", err
	}
	if _, err := os.Lstat(path); err == nil {
		if backup, err = backupFile(path, now); err != nil {
			return "", err
		}
	}
	// The rename is what matters; a directory that cannot be fsynced is not worth failing init for.
	if err := atomicfile.Write(path, data, 0o600); err != nil && !errors.Is(err, atomicfile.ErrNotDurable) {
		return backup, err
	}
	return backup, nil
}

// backupFile copies path to path.bak-<timestamp> with mode 0600, never over an existing backup.
func backupFile(path string, now time.Time) (string, error) {
	src, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("back up %s: %w", path, err)
	}
	defer src.Close()
	base := path + ".bak-" + now.UTC().Format("20060102T150405Z")
	name := base
	var dst *os.File
	for i := 2; ; i++ {
		dst, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) || i > 100 {
			break
		}
		name = base + "-" + strconv.Itoa(i)
	}
	if err != nil {
		return "", fmt.Errorf("back up %s: %w", path, err)
	}
	_, err = io.Copy(dst, src)
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("back up %s to %s: %w", path, name, err)
	}
	return name, nil
}
