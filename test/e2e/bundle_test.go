package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/stack/settings"
)

// An air-gapped host: the stack's images (each its own image here, so removing it removes it) are saved,
// removed, refused from a damaged copy, loaded, and `up --pull never` brings the stack up healthy.
func TestImagesSavedRemovedAndLoadedThenUpNeedsNoRegistry(t *testing.T) {
	wallTime(t)
	refs, present := bundleImages(t)
	p := newProject(t, projectOptions{settings: refs})
	file := filepath.Join(t.TempDir(), "m2m-images.tar")

	start := time.Now()
	p.mustCtl(5*time.Minute, "images", "save", file, "-p", p.name, "--env-file", p.envFile)
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("images save: %d images, %d bytes in %s", len(refs), st.Size(), time.Since(start).Round(10*time.Millisecond))
	removeImages(t, refs)
	if got := present(); len(got) > 0 {
		t.Fatalf("images still present after removal: %v", got)
	}

	r := p.ctl(3*time.Minute, "up", "--pull", "never", "--wait-timeout", "1m")
	if r.code != 1 || !strings.Contains(r.stderr, "m2mctl images load FILE") {
		t.Errorf("up --pull never without the images: exit %d, want 1 naming `m2mctl images load FILE`:\n%s", r.code, r.stderr)
	}

	body, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "truncated.tar")
	if err := os.WriteFile(truncated, body[:len(body)*2/3], 0o600); err != nil {
		t.Fatal(err)
	}
	r = p.ctl(3*time.Minute, "images", "load", truncated)
	if r.code != 1 || !strings.Contains(r.stderr, "refused "+truncated) || !strings.Contains(r.stderr, "Nothing was loaded") {
		t.Errorf("images load of a truncated copy: exit %d, want 1 refusing it:\n%s", r.code, r.stderr)
	}
	if got := present(); len(got) > 0 {
		t.Fatalf("a refused bundle loaded %v", got)
	}

	start = time.Now()
	p.mustCtl(5*time.Minute, "images", "load", file)
	t.Logf("images load: %d bytes in %s", st.Size(), time.Since(start).Round(10*time.Millisecond))
	if got := present(); len(got) != len(refs) {
		t.Fatalf("after load: present %v of %v", got, refs)
	}
	p.up()
	p.requireHealthy(running...)
}

// bundleImages builds each image the stack uses as an image of its own (FROM the run's image, one more label),
// so that removing it removes it, and returns their references by setting and a func listing those present.
func bundleImages(t testing.TB) (map[string]string, func() []string) {
	t.Helper()
	prefix := "m2me2e-bundle-" + randomHex(3)
	bases := map[string]string{
		settings.ConnectorImage: env.images.Connector, settings.TigerBeetleImage: env.images.TigerBeetle,
		settings.PrometheusImage: env.images.Prometheus, settings.GrafanaImage: env.images.Grafana,
		settings.JaegerImage: env.images.TigerBeetle, // profile tracing: saved, never run here
	}
	refs := map[string]string{}
	ctx, cancel := contextWithTimeout(10 * time.Minute)
	defer cancel()
	for setting, base := range bases {
		ref := fmt.Sprintf("%s/%s:1", prefix, strings.ToLower(strings.TrimSuffix(setting, "_IMAGE")))
		refs[setting] = ref
		t.Cleanup(func() { env.cli.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true}) })
		df := fmt.Sprintf("FROM %s\nLABEL io.m2m.e2e.bundle=%s\n", base, prefix)
		if err := buildContext(ctx, env.cli, ref, map[string][]byte{"Dockerfile": []byte(df)}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	present := func() []string {
		ctx, cancel := contextWithTimeout(time.Minute)
		defer cancel()
		var out []string
		for _, ref := range refs {
			if _, err := env.cli.ImageInspect(ctx, ref); err == nil {
				out = append(out, ref)
			}
		}
		return out
	}
	return refs, present
}

// removeImages removes the images by reference.
func removeImages(t testing.TB, refs map[string]string) {
	t.Helper()
	ctx, cancel := contextWithTimeout(2 * time.Minute)
	defer cancel()
	for _, ref := range refs {
		if _, err := env.cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
	}
}
