package deployer

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// ImageFile is one entry of a FROM scratch image: a regular file (Body), a symlink (Link) or a directory (Dir).
type ImageFile struct {
	Path string // absolute path in the image
	Mode int64  // permission bits; 0 means 0755 for files and directories
	Body []byte
	Link string
	Dir  bool
}

// ScratchImage describes an image built FROM scratch out of files held in memory: nothing is pulled.
type ScratchImage struct {
	Tag        string
	Files      []ImageFile
	Entrypoint []string
	Cmd        []string
	Env        []string
	Labels     map[string]string
}

// ImageBuilder is the part of the Engine API that builds images.
type ImageBuilder interface {
	ImageBuild(ctx context.Context, buildContext io.Reader, options client.ImageBuildOptions) (client.ImageBuildResult, error)
}

// BuildImageFromBinary makes a FROM scratch image holding one prebuilt static binary at /<name> as its
// entrypoint. It is how the connector image is had on a host with no registry.
func BuildImageFromBinary(ctx context.Context, cli ImageBuilder, binaryPath, tag string) error {
	body, err := os.ReadFile(binaryPath)
	if err != nil {
		return fmt.Errorf("read binary for image %s: %w", tag, err)
	}
	if err := checkStatic(binaryPath, body); err != nil {
		return err
	}
	name := "/" + filepath.Base(binaryPath)
	return BuildScratchImage(ctx, cli, ScratchImage{
		Tag:        tag,
		Files:      []ImageFile{{Path: name, Body: body}, {Path: "/tmp", Dir: true, Mode: 0o1777}},
		Entrypoint: []string{name},
	})
}

// checkStatic refuses what cannot run alone in a FROM scratch image: a non-ELF file or a dynamically
// linked one (it would die with "exec …: no such file or directory").
func checkStatic(path string, body []byte) error {
	f, err := elf.NewFile(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s is not a Linux executable (%v); build it with GOOS=linux", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked, so it cannot run in a FROM scratch image; build it static: "+
				"CGO_ENABLED=1 go build -ldflags '-linkmode external -extldflags \"-static\"' (or CGO_ENABLED=0 where cgo is not needed)", path)
		}
	}
	return nil
}

// BuildScratchImage builds img through the Engine API's ImageBuild from an in-memory tar context.
func BuildScratchImage(ctx context.Context, cli ImageBuilder, img ScratchImage) error {
	buildCtx, err := scratchContext(img)
	if err != nil {
		return fmt.Errorf("build image %s: %w", img.Tag, err)
	}
	res, err := cli.ImageBuild(ctx, buildCtx, client.ImageBuildOptions{
		Tags: []string{img.Tag}, Remove: true, ForceRemove: true, Labels: img.Labels, Dockerfile: "Dockerfile",
	})
	if err != nil {
		return fmt.Errorf("build image %s: %w", img.Tag, Explain(err))
	}
	defer res.Body.Close()
	if err := drainJSONStream(res.Body, nil); err != nil {
		return fmt.Errorf("build image %s: %w", img.Tag, Explain(err))
	}
	return nil
}

func scratchContext(img ScratchImage) (io.Reader, error) {
	var df strings.Builder
	df.WriteString("FROM scratch\nCOPY rootfs/ /\n")
	for _, e := range img.Env {
		k, v, _ := strings.Cut(e, "=")
		fmt.Fprintf(&df, "ENV %s=%q\n", k, v)
	}
	if len(img.Entrypoint) > 0 {
		ep, _ := json.Marshal(img.Entrypoint)
		fmt.Fprintf(&df, "ENTRYPOINT %s\n", ep)
	}
	if len(img.Cmd) > 0 {
		cmd, _ := json.Marshal(img.Cmd)
		fmt.Fprintf(&df, "CMD %s\n", cmd)
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body []byte) error {
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	if err := add(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(df.Len())}, []byte(df.String())); err != nil {
		return nil, err
	}
	files := append([]ImageFile(nil), img.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	dirs := map[string]bool{"rootfs/": true}
	if err := add(&tar.Header{Name: "rootfs/", Typeflag: tar.TypeDir, Mode: 0o755}, nil); err != nil {
		return nil, err
	}
	for _, f := range files {
		if !path.IsAbs(f.Path) {
			return nil, fmt.Errorf("image file %q: path must be absolute", f.Path)
		}
		name := "rootfs" + path.Clean(f.Path)
		if err := addParents(tw, name, dirs); err != nil {
			return nil, err
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o755
		}
		var err error
		switch {
		case f.Dir:
			if dirs[name+"/"] {
				continue
			}
			dirs[name+"/"] = true
			err = add(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: mode}, nil)
		case f.Link != "":
			err = add(&tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: f.Link, Mode: 0o777}, nil)
		default:
			err = add(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(f.Body))}, f.Body)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// addParents writes directory entries for name's parents that are not yet in the archive.
func addParents(tw *tar.Writer, name string, written map[string]bool) error {
	var missing []string
	for d := path.Dir(name); d != "rootfs" && d != "." && d != "/"; d = path.Dir(d) {
		if written[d+"/"] {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		written[missing[i]+"/"] = true
		if err := tw.WriteHeader(&tar.Header{Name: missing[i] + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			return err
		}
	}
	return nil
}

// drainJSONStream reads a build or pull stream to its end and returns the first error it carries;
// each message is handed to fn when fn is not nil.
func drainJSONStream(r io.Reader, fn func(jsonstream.Message)) error {
	dec := json.NewDecoder(r)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if m.Error != nil {
			return errors.New(strings.TrimSpace(m.Error.Message))
		}
		if fn != nil {
			fn(m)
		}
	}
}
