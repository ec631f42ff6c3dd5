package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"

	"github.com/m2mnet/m2m/deployer"
	"github.com/m2mnet/m2m/test/standin"
)

// Environment variables that replace a locally built stand-in by a real image (already on the engine: the tests
// never pull). README.md documents them.
const (
	envConnectorImage   = "M2M_E2E_CONNECTOR_IMAGE"
	envTigerBeetleImage = "M2M_E2E_TIGERBEETLE_IMAGE"
	envPrometheusImage  = "M2M_E2E_PROMETHEUS_IMAGE"
	envGrafanaImage     = "M2M_E2E_GRAFANA_IMAGE"
)

// slowFormatDelay holds the TigerBeetle stand-in's format half-way, so the fault scenario can interrupt it.
const slowFormatDelay = "5s"

// images are the references each scenario writes into its .env.
type images struct {
	Connector, TigerBeetle, Prometheus, Grafana string
	// SlowFormat is TigerBeetle with STANDIN_FORMAT_SLEEP set (the real image ignores it).
	SlowFormat string
	// RealTigerBeetle is true when TigerBeetle is a real image: the connector then keeps its books in it
	// (LEDGER=tigerbeetle). The stand-in speaks no TigerBeetle protocol, so with it LEDGER=memory.
	RealTigerBeetle bool
	built           []string
}

func (im images) String() string {
	return fmt.Sprintf("connector=%s tigerbeetle=%s prometheus=%s grafana=%s", im.Connector, im.TigerBeetle, im.Prometheus, im.Grafana)
}

// prepareImages builds, in parallel, every image not given by an environment variable, tagged under prefix.
func prepareImages(ctx context.Context, cli *dockerClient, root, connectorBin, prefix string) (images, error) {
	im := images{RealTigerBeetle: os.Getenv(envTigerBeetleImage) != ""}
	type job struct {
		env   string
		ref   *string
		build func(ctx context.Context, tag string) error
	}
	jobs := []job{
		{envConnectorImage, &im.Connector, func(ctx context.Context, tag string) error {
			return buildConnectorImage(ctx, cli, root, connectorBin, tag)
		}},
		{envTigerBeetleImage, &im.TigerBeetle, func(ctx context.Context, tag string) error { return standin.BuildTigerBeetle(ctx, cli, tag) }},
		{envPrometheusImage, &im.Prometheus, func(ctx context.Context, tag string) error { return standin.BuildPrometheus(ctx, cli, tag) }},
		{envGrafanaImage, &im.Grafana, func(ctx context.Context, tag string) error { return standin.BuildGrafana(ctx, cli, tag) }},
	}
	for _, j := range jobs {
		name := strings.TrimSuffix(strings.TrimPrefix(strings.ToLower(j.env), "m2m_e2e_"), "_image")
		if ref := os.Getenv(j.env); ref != "" {
			if _, err := cli.ImageInspect(ctx, ref); err != nil {
				return im, fmt.Errorf("%s=%s: the image is not on this engine (%v); the tests never pull: "+
					"docker pull %s first, or unset %s to use the local stand-in", j.env, ref, firstLine(err.Error()), ref, j.env)
			}
			*j.ref = ref
			continue
		}
		*j.ref = prefix + "/" + name + ":test"
		im.built = append(im.built, *j.ref)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, j := range jobs {
		if os.Getenv(j.env) != "" {
			continue
		}
		g.Go(func() error { return j.build(gctx, *j.ref) })
	}
	if err := g.Wait(); err != nil {
		return im, err
	}
	im.SlowFormat = prefix + "/tigerbeetle-slow-format:test"
	im.built = append(im.built, im.SlowFormat)
	df := fmt.Sprintf("FROM %s\nENV STANDIN_FORMAT_SLEEP=%s\n", im.TigerBeetle, slowFormatDelay)
	if err := buildContext(ctx, cli, im.SlowFormat, map[string][]byte{"Dockerfile": []byte(df)}, nil, nil); err != nil {
		return im, err
	}
	return im, nil
}

// buildConnectorImage builds deploy/connector/Dockerfile.local — the operator's offline image, FROM scratch —
// around the static binary, with the context deploy/build-local.sh prepares.
func buildConnectorImage(ctx context.Context, cli *dockerClient, root, bin, tag string) error {
	df, err := os.ReadFile(filepath.Join(root, "deploy", "connector", "Dockerfile.local"))
	if err != nil {
		return fmt.Errorf("connector image: %w", err)
	}
	body, err := os.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("connector image: %w", err)
	}
	const caBundle = "/etc/ssl/certs/ca-certificates.crt"
	ca, err := os.ReadFile(caBundle)
	if err != nil {
		return fmt.Errorf("connector image needs a CA bundle at %s (apt-get install ca-certificates): %w", caBundle, err)
	}
	version := "e2e"
	return buildContext(ctx, cli, tag,
		map[string][]byte{"Dockerfile": df, "m2m-connector": body, "ca-certificates.crt": ca},
		[]string{"data", "logs"}, map[string]*string{"VERSION": &version})
}

// buildContext builds tag from an in-memory context of files (executable) and empty directories, with the
// engine's classic builder: a FROM of an image already present is not pulled.
func buildContext(ctx context.Context, cli *dockerClient, tag string, files map[string][]byte, dirs []string, args map[string]*string) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			return err
		}
	}
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(body))}); err != nil {
			return err
		}
		if _, err := tw.Write(body); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	res, err := cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true,
		Dockerfile: "Dockerfile", BuildArgs: args})
	if err != nil {
		return fmt.Errorf("build image %s: %w", tag, deployer.Explain(err))
	}
	defer res.Body.Close()
	return drainBuild(tag, res.Body)
}

func drainBuild(tag string, r io.Reader) error {
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
			return fmt.Errorf("build image %s: %w", tag, err)
		}
		if m.Error != nil {
			return fmt.Errorf("build image %s: %s", tag, m.Error.Message)
		}
	}
}

// remove deletes the images the run built; what others gave by environment variable stays.
func (im images) remove(ctx context.Context, cli *dockerClient) {
	for i := len(im.built) - 1; i >= 0; i-- {
		cli.ImageRemove(ctx, im.built[i], client.ImageRemoveOptions{Force: true, PruneChildren: true})
	}
}
