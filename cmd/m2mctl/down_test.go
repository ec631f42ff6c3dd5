package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/m2mnet/m2m/deployer"

	"github.com/m2mnet/m2m/internal/testenv"
)

func TestDownVolumesListsThemAndRemovesOnlyOnYes(t *testing.T) {
	testenv.NeedsEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli, err := deployer.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	b := make([]byte, 4)
	rand.Read(b)
	project := "m2mtest-" + hex.EncodeToString(b)
	volume := project + "_tigerbeetle-data"
	_, err = cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: volume, Labels: map[string]string{
		deployer.LabelProject: project, deployer.LabelVolume: "tigerbeetle-data", deployer.LabelVersion: deployer.ComposeVersion}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.VolumeRemove(context.Background(), volume, client.VolumeRemoveOptions{Force: true}) })

	down := func(answer string) (int, string) {
		var out, errOut bytes.Buffer
		streams := &ioStreams{In: strings.NewReader(answer), Out: &out, ErrOut: &errOut, inTTY: true, errTTY: true}
		return run(ctx, streams, []string{"down", "-p", project, "--volumes"}), errOut.String()
	}
	exists := func() bool {
		_, err := cli.VolumeInspect(ctx, volume, client.VolumeInspectOptions{})
		return err == nil
	}

	code, stderr := down("no\n")
	if code != exitFailed || !exists() || !strings.Contains(stderr, volume) || !strings.Contains(stderr, "Type yes") {
		t.Fatalf("answer no: exit %d, volume kept %t, stderr %q; want exit 1, the volume listed and kept", code, exists(), stderr)
	}
	code, stderr = down("yes\n")
	if code != 0 || exists() {
		t.Fatalf("answer yes: exit %d, volume kept %t, stderr %q; want exit 0 and the volume gone", code, exists(), stderr)
	}
}
