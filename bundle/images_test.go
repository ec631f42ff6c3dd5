package bundle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/bundle"
	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/internal/testenv"
)

// twoImages builds two small FROM scratch images with unique tags and removes them when the test ends.
func twoImages(t *testing.T, ctx context.Context, cli *client.Client) []string {
	t.Helper()
	var refs []string
	for i := range 2 {
		ref := fmt.Sprintf("m2m-test/bundle-%d:%d", time.Now().UnixNano(), i)
		body := payload(i)
		err := deployer.BuildScratchImage(ctx, cli, deployer.ScratchImage{Tag: ref,
			Files: []deployer.ImageFile{{Path: "/payload", Mode: 0o644, Body: body}}, Entrypoint: []string{"/payload"}})
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	t.Cleanup(func() { removeImages(context.Background(), cli, refs) })
	return refs
}

// payload is image i's one file: large enough to be worth checksumming, and recognisable in the archive.
func payload(i int) []byte {
	body := make([]byte, 256<<10)
	for j := range body {
		body[j] = byte(j*7 + i*j/251)
	}
	return body
}

func removeImages(ctx context.Context, cli *client.Client, refs []string) {
	for _, ref := range refs {
		cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	}
}

func present(ctx context.Context, cli *client.Client, refs []string) []string {
	var got []string
	for _, ref := range refs {
		if _, err := cli.ImageInspect(ctx, ref); err == nil {
			got = append(got, ref)
		}
	}
	return got
}

func engine(t *testing.T) (*client.Client, context.Context) {
	testenv.NeedsEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli, ctx
}

func TestSavedImagesLoadBackAfterRemoval(t *testing.T) {
	cli, ctx := engine(t)
	refs := twoImages(t, ctx, cli)
	path := filepath.Join(t.TempDir(), "images.tar")
	var saved int64
	man, err := bundle.SaveImages(ctx, cli, refs, path, func(n int64) { saved = n })
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st == nil || st.Size() != saved || len(man.Images) != 2 {
		t.Fatalf("bundle: stat %v, progress said %d bytes, manifest %+v", st, saved, man)
	}

	removeImages(ctx, cli, refs)
	if got := present(ctx, cli, refs); len(got) != 0 {
		t.Fatalf("images still present after removal: %v", got)
	}
	var sent int64
	if _, err := bundle.LoadImages(ctx, cli, path, nil, func(n int64) { sent = n }); err != nil {
		t.Fatal(err)
	}
	if got := present(ctx, cli, refs); len(got) != 2 || sent != saved {
		t.Fatalf("after load: present %v of %v; sent %d of %d bytes", got, refs, sent, saved)
	}

	// The same file is an ordinary `docker save` archive: the engine's own load (what `docker load` calls)
	// accepts it with the seal inside.
	removeImages(ctx, cli, refs)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := cli.ImageLoad(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := io.ReadAll(res)
	res.Close()
	if got := present(ctx, cli, refs); len(got) != 2 {
		t.Fatalf("docker load of the bundle: present %v of %v; engine said %s", got, refs, msgs)
	}
}

func TestDamagedBundleIsRefusedAndLoadsNothing(t *testing.T) {
	cli, ctx := engine(t)
	refs := twoImages(t, ctx, cli)
	dir := t.TempDir()
	path := filepath.Join(dir, "images.tar")
	if _, err := bundle.SaveImages(ctx, cli, refs, path, nil); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	removeImages(ctx, cli, refs)

	// Flip one bit inside a layer's payload (not in tar padding, which nothing reads).
	modified := append([]byte(nil), good...)
	at := bytes.Index(good, payload(0)[1000:1064])
	if at < 0 {
		t.Fatal("the payload is not stored verbatim in the bundle")
	}
	modified[at+10] ^= 0x01
	for name, body := range map[string][]byte{
		"truncated":     good[:len(good)*2/3],
		"seal cut off":  good[:len(good)-3072],
		"modified byte": modified,
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, "damaged.tar")
			if err := os.WriteFile(p, body, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := bundle.LoadImages(ctx, cli, p, nil, nil)
			var ce *bundle.CorruptError
			if !errors.As(err, &ce) || ce.Path != p {
				t.Fatalf("load of a %s bundle: got %v, want a CorruptError naming %s", name, err, p)
			}
			t.Logf("refused: %v", err)
			if got := present(ctx, cli, refs); len(got) != 0 {
				t.Fatalf("a refused bundle loaded %v", got)
			}
		})
	}
}
