package bundle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// ImagesFormat names an image bundle in its seal.
const ImagesFormat = "m2m-images/1"

// Engine is the part of the Docker Engine API that image bundles use; *client.Client satisfies it.
type Engine interface {
	ImageSave(ctx context.Context, refs []string, opts ...client.ImageSaveOption) (client.ImageSaveResult, error)
	ImageLoad(ctx context.Context, input io.Reader, opts ...client.ImageLoadOption) (client.ImageLoadResult, error)
	ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
}

// Image is one image in a bundle: the name the stack uses, its local ID and its registry digests, if any.
type Image struct {
	Ref         string   `json:"ref"`
	ID          string   `json:"id"`
	RepoDigests []string `json:"repoDigests,omitempty"`
}

// Manifest is what an image bundle holds (the seal's meta).
type Manifest struct {
	Images []Image `json:"images"`
}

// MissingImagesError lists images that are not on this engine and so cannot be saved.
type MissingImagesError struct{ Refs []string }

func (e *MissingImagesError) Error() string {
	return "not on this engine: " + strings.Join(e.Refs, ", ")
}

// Progress is called with the bytes done so far.
type Progress func(done int64)

// SaveImages writes refs, as the engine's `docker save` archive plus the seal, to path: first to a temporary
// file beside it, renamed into place only once complete, so an interrupted save leaves no half bundle.
func SaveImages(ctx context.Context, cli Engine, refs []string, path string, progress Progress) (*Manifest, error) {
	man := &Manifest{}
	var missing []string
	for _, ref := range refs {
		res, err := cli.ImageInspect(ctx, ref)
		if cerrdefs.IsNotFound(err) {
			missing = append(missing, ref)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("inspect image %s: %w", ref, err)
		}
		man.Images = append(man.Images, Image{Ref: ref, ID: res.ID, RepoDigests: res.RepoDigests})
	}
	if len(missing) > 0 {
		return nil, &MissingImagesError{Refs: missing}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.partial")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := writeBundle(ctx, cli, refs, tmp, man, progress); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	// Images hold no secrets; the bundle is meant to be copied to other hosts and read by other users.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, err
	}
	return man, nil
}

func writeBundle(ctx context.Context, cli Engine, refs []string, f *os.File, man *Manifest, progress Progress) error {
	rc, err := cli.ImageSave(ctx, refs)
	if err != nil {
		return fmt.Errorf("save images: %w", err)
	}
	defer rc.Close()
	sw := NewSealWriter(&countingWriter{w: f, progress: progress}, ImagesFormat)
	if err := sw.CopyTar(rc, ""); err != nil {
		return fmt.Errorf("save images: %w", err)
	}
	return sw.Close(man)
}

// LoadImages checks the bundle at path against its seal, reading it whole, and only then hands it to the
// engine; a bundle that fails the check loads nothing (*CorruptError). It then checks that every image is
// present with the ID it was saved with. progress sees the bytes verified, then the bytes sent.
func LoadImages(ctx context.Context, cli Engine, path string, verified, sent Progress) (*Manifest, error) {
	seal, err := Verify(path, ImagesFormat, verified)
	if err != nil {
		return nil, err
	}
	man := &Manifest{}
	if err := json.Unmarshal(seal.Meta, man); err != nil {
		return nil, &CorruptError{Path: path, Reason: "the image list in the seal is unreadable: " + err.Error()}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res, err := cli.ImageLoad(ctx, &countingReader{r: f, progress: sent}, client.ImageLoadWithQuiet(true))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	defer res.Close()
	if err := drainLoad(res); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	for _, img := range man.Images {
		got, err := cli.ImageInspect(ctx, img.Ref)
		if err != nil {
			return nil, fmt.Errorf("after loading %s, image %s: %w", path, img.Ref, err)
		}
		if got.ID != img.ID {
			return nil, fmt.Errorf("after loading %s, image %s is %s, not the saved %s", path, img.Ref, got.ID, img.ID)
		}
	}
	return man, nil
}

// drainLoad reads the engine's load messages to the end and returns the first error among them.
func drainLoad(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m struct {
			Error *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if m.Error != nil {
			return errors.New(strings.TrimSpace(m.Error.Message))
		}
	}
}

type countingWriter struct {
	w        io.Writer
	n        int64
	progress Progress
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.progress != nil {
		c.progress(c.n)
	}
	return n, err
}
