// Package templates embeds the files the stack mounts: Prometheus configuration and alert rules, Grafana
// provisioning and dashboards. The Compose YAML refers to them under ./templates, and m2mctl writes them out
// next to the .env when they are missing, so a node needs no checkout of this repository.
package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The promtool test cases in prometheus/tests are left out: they are for this repository's checks, not for a node.
//
//go:embed prometheus/prometheus.yml prometheus/rules grafana
var files embed.FS

// FS holds the templates, rooted as in the repository (prometheus/…, grafana/…).
func FS() fs.FS { return files }

// Written reports what Materialize did with one file.
type Written struct {
	Path    string
	Created bool // false: it existed and was left alone
	Differs bool // it existed with other content (an operator's edit, or an older release's file)
}

// Materialize writes every template under dir/templates that is not there yet (world-readable, since the
// Prometheus and Grafana processes run as other users). Existing files are never overwritten.
func Materialize(dir string) ([]Written, error) {
	root := filepath.Join(dir, "templates")
	var out []Written
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		want, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		dst := filepath.Join(root, filepath.FromSlash(path))
		have, err := os.ReadFile(dst)
		switch {
		case err == nil:
			out = append(out, Written{Path: dst, Differs: !bytes.Equal(have, want)})
			return nil
		case !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("read %s: %w", dst, err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(dst), err)
		}
		if err := os.WriteFile(dst, want, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
		out = append(out, Written{Path: dst, Created: true})
		return nil
	})
	return out, err
}
