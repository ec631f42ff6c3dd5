package discovery

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRateLimitAnswers429PerClient(t *testing.T) {
	clk := newClock()
	_, base := startRegistry(t, RegistryConfig{Now: clk.Now, ReadRate: 1, ReadBurst: 3})
	for i := range 3 {
		if code, _ := get(t, base+peersPath); code != http.StatusOK {
			t.Fatalf("request %d within the burst: %d", i+1, code)
		}
	}
	code, a := get(t, base+peersPath)
	if code != http.StatusTooManyRequests || a.header.Get("Retry-After") != "1" || !strings.Contains(a.Error, "rate limit") {
		t.Fatalf("4th request: %d Retry-After=%q %q, want 429, Retry-After 1", code, a.header.Get("Retry-After"), a.Error)
	}
	if code, _ := get(t, base+"/health"); code != http.StatusOK {
		t.Fatalf("/health is rate limited: %d", code)
	}
	if code, a := newTestNode(t, "alice").announce(t, base); code != http.StatusOK {
		t.Fatalf("reads used up the write bucket too: %d %q", code, a.Error)
	}
	clk.Advance(time.Second)
	if code, _ := get(t, base+peersPath); code != http.StatusOK {
		t.Fatalf("after a second the bucket should hold one token: %d", code)
	}
}

func TestRoutesAndMethods(t *testing.T) {
	reg, base := startRegistry(t, RegistryConfig{})
	tests := []struct {
		method, path string
		code         int
		allow        string
	}{
		{http.MethodGet, "/health", http.StatusOK, ""},
		{http.MethodPost, "/health", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodGet, "/api/v1/nodes", http.StatusNotFound, ""},
		{http.MethodGet, "/", http.StatusNotFound, ""},
		{http.MethodGet, announcePath, http.StatusMethodNotAllowed, "POST"},
		{http.MethodPost, peersPath, http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodGet, peersPath + "/alice", http.StatusMethodNotAllowed, "DELETE"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, base+tt.path, nil)
		code, a := send(t, req)
		if code != tt.code || a.header.Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d Allow=%q, want %d Allow=%q", tt.method, tt.path, code, a.header.Get("Allow"), tt.code, tt.allow)
		}
		if code != http.StatusOK && (a.Success == nil || *a.Success || a.Error == "") {
			t.Errorf("%s %s: error answer %+v lacks success:false and error", tt.method, tt.path, a)
		}
	}

	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/health", peersPath} {
		code, a := get(t, base+path)
		if code != http.StatusServiceUnavailable || !strings.Contains(a.Error, "shutting down") || a.header.Get("Retry-After") == "" {
			t.Errorf("GET %s while shutting down: %d %q, want 503", path, code, a.Error)
		}
	}
	if code, _ := newTestNode(t, "late").announce(t, base); code != http.StatusServiceUnavailable {
		t.Errorf("announce while shutting down: %d, want 503", code)
	}
}

func TestRegistryFullAnswers503(t *testing.T) {
	_, base := startRegistry(t, RegistryConfig{MaxNodes: 1})
	alice := newTestNode(t, "alice")
	alice.announce(t, base)
	if code, a := newTestNode(t, "bob").announce(t, base); code != http.StatusServiceUnavailable || !strings.Contains(a.Error, "full") {
		t.Fatalf("second node in a registry for one: %d %q", code, a.Error)
	}
	if code, _ := alice.announce(t, base); code != http.StatusOK {
		t.Fatalf("a known node must still refresh when the registry is full: %d", code)
	}
}
