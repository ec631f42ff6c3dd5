package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/deployer"

	"github.com/m2mnet/m2m/internal/testenv"
)

// runDeploy runs m2mctl with args on fake, non-interactive streams.
func runDeploy(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := &ioStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code = run(ctx, streams, args)
	return code, out.String(), errOut.String()
}

func TestDeployCommandsRejectBadFlagsWithExit2(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, ".env")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"up", "--env-file", env}, "run `m2mctl init`"},
		{[]string{"up", "--pull", "sometimes"}, `--pull "sometimes"`},
		{[]string{"up", "--wait-timeout", "0s"}, "--wait-timeout"},
		{[]string{"up", "-o", "yaml"}, `--output "yaml"`},
		{[]string{"plan", "-o", "table"}, `--output "table"`},
		{[]string{"logs", "--tail", "lots"}, `--tail "lots"`},
		{[]string{"status", "--bogus"}, "unknown flag"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, stderr := runDeploy(t, tc.args...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", code, stderr, tc.want)
			}
		})
	}
}

func TestBadEnvFailsPlanAndUpLikeConfigNamingEveryLine(t *testing.T) {
	env := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(env, []byte("NODE_ID=m2m-abc123\nBTP_PORT=abc\nSETTLEMENT_PREFERENCE=btc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"config", "plan", "up"} {
		code, _, stderr := runDeploy(t, cmd, "--env-file", env)
		if code != exitFailed || !strings.Contains(stderr, "line 2: BTP_PORT=abc") || !strings.Contains(stderr, "line 3: SETTLEMENT_PREFERENCE=btc") {
			t.Errorf("m2mctl %s with a bad .env: exit %d, stderr %q; want exit 1 naming lines 2 and 3", cmd, code, stderr)
		}
	}
}

func TestEngineUnreachableIsOneLineWithTheFix(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no.sock"))
	for _, cmd := range []string{"status", "down", "logs"} {
		code, _, stderr := runDeploy(t, cmd)
		if code != exitFailed || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "DOCKER_HOST") {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and one line naming DOCKER_HOST", cmd, code, stderr)
		}
	}
}

func TestStatusOfAProjectThatDoesNotRunExits1(t *testing.T) {
	testenv.NeedsEngine(t)
	b := make([]byte, 4)
	rand.Read(b)
	project := "m2mtest-" + hex.EncodeToString(b)
	code, stdout, _ := runDeploy(t, "status", "-p", project, "--env-file", filepath.Join(t.TempDir(), ".env"))
	if code != exitFailed || !strings.Contains(stdout, "Nothing of project "+project+" runs here") {
		t.Errorf("exit %d, stdout %q; want exit 1 and that nothing runs", code, stdout)
	}
	code, stdout, _ = runDeploy(t, "status", "-p", project, "-o", "json", "--env-file", filepath.Join(t.TempDir(), ".env"))
	if code != exitFailed || !strings.Contains(stdout, `"healthy": false`) {
		t.Errorf("json: exit %d, stdout %q; want exit 1 and healthy false", code, stdout)
	}
}

// The connector's /health is served here by a stand-in HTTP server with the connector's JSON shape.
func TestStatusShowsConnectorDependenciesAndPeers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"status":"healthy","dependencies":{"tigerbeetle":{"status":"up","required":true},"evm":{"status":"down","required":false}},"peers":{"connected":3,"discovered":5}}`)
	}))
	defer srv.Close()
	opts := &statusOptions{httpClient: srv.Client()}
	h := opts.probe(context.Background(), srv.URL+"/health")
	if h == nil {
		t.Fatal("probe of a healthy connector returned nothing")
	}
	var out bytes.Buffer
	rep := statusReport{Project: "m2m", Connector: h, Services: []deployer.ServiceStatus{{Service: "connector", State: "running", Health: "healthy", OK: true}}}
	if err := printStatus(&out, rep); err != nil {
		t.Fatal(err)
	}
	want := "connector: healthy; dependencies: evm down, tigerbeetle up; peers: 3 connected, 5 discovered"
	if !strings.Contains(out.String(), want) {
		t.Errorf("status output:\n%s\nwant a line %q", out.String(), want)
	}
	if opts.probe(context.Background(), srv.URL+"/nothing") != nil {
		t.Error("a 404 answer was taken for connector health")
	}
}
