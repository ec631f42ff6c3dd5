package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHealthcheckExitCodeFollowsReadiness(t *testing.T) {
	var path atomic.Value
	ready := atomic.Bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path.Store(r.URL.Path)
		if !ready.Load() {
			http.Error(w, `{"status":"not ready"}`, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"status":"ready"}`))
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	t.Setenv("HEALTH_CHECK_PORT", port)

	if code := run([]string{"healthcheck"}); code != 1 {
		t.Fatalf("not ready: exit %d, want 1", code)
	}
	ready.Store(true)
	if code := run([]string{"healthcheck"}); code != 0 {
		t.Fatalf("ready: exit %d, want 0", code)
	}
	if p := path.Load(); p != "/health/ready" {
		t.Fatalf("probed %v; want /health/ready on HEALTH_CHECK_PORT", p)
	}
	if code := run([]string{"healthcheck", "--url", srv.URL + "/health"}); code != 0 || path.Load() != "/health" {
		t.Fatalf("--url: exit %d, path %v; want 0 and /health", code, path.Load())
	}
}

func TestHealthcheckGivesUpAfterItsTimeout(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hang }))
	defer srv.Close()
	defer close(hang)
	start := time.Now()
	if code := run([]string{"healthcheck", "--url", srv.URL, "--timeout", "300ms"}); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("took %s with a 300 ms timeout", took)
	}
}

func TestVersionPrintsVersionAndCommit(t *testing.T) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"version"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "m2m-connector "+version+" (commit "+commit+", go") {
		t.Fatalf("version printed %q", got)
	}
}
