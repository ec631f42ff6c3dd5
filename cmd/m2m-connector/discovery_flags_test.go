package main

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/discovery"
)

func TestDiscoveryFlagsAreCheckedNamingTheFlag(t *testing.T) {
	good := func() *discoveryOptions {
		return &discoveryOptions{TTL: discovery.DefaultTTL, RateLimit: 5, RateBurst: 30, ReadRate: 10, ReadBurst: 60,
			MaxNodes: 10, MaxPerClient: 2, Retention: 24 * time.Hour}
	}
	cases := []struct {
		name, want string
		change     func(o *discoveryOptions)
	}{
		{"max nodes", "--max-nodes 0", func(o *discoveryOptions) { o.MaxNodes = 0 }},
		{"quota", "--max-per-client -1", func(o *discoveryOptions) { o.MaxPerClient = -1 }},
		{"retention", "--retention 1m0s", func(o *discoveryOptions) { o.Retention = time.Minute }},
		{"proxy", `--trusted-proxy "10.0.0.0/33"`, func(o *discoveryOptions) { o.TrustedProxies = []string{"10.0.0.0/33"} }},
		{"read rate", "--read-rate 0", func(o *discoveryOptions) { o.ReadRate = 0 }},
	}
	for _, c := range cases {
		o := good()
		c.change(o)
		if _, err := o.registryConfig(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one naming %s", c.name, err, c.want)
		}
	}
	o := good()
	o.TrustedProxies = []string{"10.1.2.3/8", "192.0.2.7", "2001:db8::/32"}
	cfg, err := o.registryConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32")}
	if !slices.Equal(cfg.TrustedProxies, want) || cfg.MaxNodes != 10 || cfg.MaxPerClient != 2 || cfg.KeyRetention != 24*time.Hour {
		t.Fatalf("config from flags: %+v", cfg)
	}
}

// TestFullRegistryAnswerNamesTheFlag runs the binary with --max-nodes 1: the second node id is refused with
// a 503 that says which flag raises the limit.
func TestFullRegistryAnswerNamesTheFlag(t *testing.T) {
	bin := buildConnector(t)
	base, stop := startDiscoveryProcess(t, bin, filepath.Join(t.TempDir(), "data"), "--max-nodes", "1")
	defer stop()
	for i, want := range []int{http.StatusOK, http.StatusServiceUnavailable} {
		resp, err := http.DefaultClient.Do(signedAnnounce(t, base, []string{"first", "second"}[i]))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want == http.StatusServiceUnavailable && !strings.Contains(string(b), "--max-nodes (now 1)")) {
			t.Fatalf("registration %d: %d %s, want %d (the 503 naming --max-nodes)", i+1, resp.StatusCode, b, want)
		}
	}
}

// TestTrustedProxyFlagDecidesWhoseForwardedForCounts runs the binary with a per-client quota of one node id:
// behind --trusted-proxy 127.0.0.1 two clients named by X-Forwarded-For register one each; without the
// flag the same header from 127.0.0.1 is a forgery, ignored, and the second registration is over the quota.
func TestTrustedProxyFlagDecidesWhoseForwardedForCounts(t *testing.T) {
	bin := buildConnector(t)
	for _, c := range []struct {
		name  string
		flags []string
		want  []int
	}{
		{"behind a trusted proxy", []string{"--trusted-proxy", "127.0.0.1"}, []int{http.StatusOK, http.StatusOK}},
		{"from an untrusted peer", nil, []int{http.StatusOK, http.StatusTooManyRequests}},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, stop := startDiscoveryProcess(t, bin, filepath.Join(t.TempDir(), "data"), append([]string{"--max-per-client", "1"}, c.flags...)...)
			defer stop()
			for i, want := range c.want {
				req := signedAnnounce(t, base, fmt.Sprintf("client-%d", i))
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want || (want == http.StatusTooManyRequests && !strings.Contains(string(b), "--max-per-client")) {
					t.Fatalf("registration %d with X-Forwarded-For 198.51.100.%d: %d %s, want %d", i+1, i+1, resp.StatusCode, b, want)
				}
			}
		})
	}
}
