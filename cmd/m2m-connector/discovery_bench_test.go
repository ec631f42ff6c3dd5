package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/discovery"
	"github.com/m2mnet/m2m/connector/identity"
)

// TestBenchDiscoveryRegistry is make bench-discovery's load test of the real binary on loopback: 10,000
// signed registrations from 64 workers (each durable before its answer) while a reader pages the listing,
// then refreshes, full listings and no-change polls (304) with 10,000 held, and the registry's RSS.
// M2M_BENCH=1 runs it.
func TestBenchDiscoveryRegistry(t *testing.T) {
	if os.Getenv("M2M_BENCH") == "" {
		t.Skip("a benchmark; M2M_BENCH=1 (make bench-discovery) runs it")
	}
	const n, workers = 10000, 64
	bin := buildConnector(t)
	base, stop, proc := startDiscoveryProc(t, bin, filepath.Join(t.TempDir(), "data"), "--max-per-client", "20000",
		"--rate-limit", "1e9", "--rate-burst", "1000000000", "--read-rate", "1e9", "--read-burst", "1000000000")
	defer stop()

	type signed struct {
		body []byte
		pub  string
		key  ed25519.PrivateKey
	}
	reqs := make([]signed, n)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				enc, _, _ := identity.GenerateKey()
				key, _ := identity.ParsePrivateKey(enc)
				id := fmt.Sprintf("bench-%05d", i)
				body, _ := json.Marshal(discovery.PeerInfo{NodeID: id, BTPEndpoint: "wss://" + id + ".example.net:4000",
					ILPAddress: "g.m2m." + id, Capabilities: []string{"evm-settlement"}, Version: "0.3.0"})
				reqs[i] = signed{body: body, pub: identity.EncodePublicKey(key.Public().(ed25519.PublicKey)), key: key}
			}
		})
	}
	wg.Wait()

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers + 4}}
	post := func(s signed) error {
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/peers/announce", bytes.NewReader(s.body))
		req.Header.Set(discovery.HeaderPublicKey, s.pub)
		ts, sig := identity.SignMessage(s.key, identity.PurposeAnnounce, base, time.Now(), s.body) // every announcement is signed afresh
		req.Header.Set(discovery.HeaderTimestamp, ts)
		req.Header.Set(discovery.HeaderSignature, sig)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%d %s", resp.StatusCode, b)
		}
		return nil
	}
	burst := func() time.Duration {
		var next atomic.Int32
		start := time.Now()
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					if err := post(reqs[i]); err != nil {
						t.Errorf("announce %d: %v", i, err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	get := func(url, etag string) (time.Duration, int, string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start), resp.StatusCode, resp.Header.Get("ETag")
	}

	// Registrations while a reader pages the listing, 1,000 at a time, 20 pages a second.
	done := make(chan struct{})
	var during []time.Duration
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for page := 0; ; page++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			d, _, _ := get(fmt.Sprintf("%s/api/v1/peers?limit=1000&cursor=bench-%05d", base, (page%10)*1000), "")
			during = append(during, d)
		}
	}()
	cpu0 := procCPU(proc.Process.Pid)
	reg := burst()
	cpu1 := procCPU(proc.Process.Pid)
	close(done)
	<-readerDone
	refresh := burst()
	cpu2 := procCPU(proc.Process.Pid)

	var full, notMod []time.Duration
	for range 30 {
		d, _, _ := get(base+"/api/v1/peers", "")
		full = append(full, d)
	}
	_, _, etag := get(base+"/api/v1/peers?limit=1", "")
	var cursor struct{ Cursor string }
	resp, _ := hc.Get(base + "/api/v1/peers?limit=1")
	_ = json.NewDecoder(resp.Body).Decode(&cursor)
	resp.Body.Close()
	for range 1000 {
		d, code, _ := get(base+"/api/v1/peers?since="+cursor.Cursor, etag)
		if code != http.StatusNotModified {
			t.Fatalf("no-change poll: %d, want 304", code)
		}
		notMod = append(notMod, d)
	}
	rss, hwm := procMemory(proc.Process.Pid)
	t.Logf("%d signed registrations (durable before each answer), %d workers: %s = %.0f/s; registry CPU %s = %.0f per CPU-second (reads included)",
		n, workers, reg.Round(time.Millisecond), float64(n)/reg.Seconds(), cpu1-cpu0, float64(n)/(cpu1-cpu0).Seconds())
	t.Logf("GET ?limit=1000 during the registrations: %d requests, p50 %s, p99 %s", len(during), pct(during, 50), pct(during, 99))
	t.Logf("%d refreshes (signed, lastSeen only, not waiting for the disk) with %d held: %s = %.0f/s; registry CPU %s = %.0f per CPU-second",
		n, n, refresh.Round(time.Millisecond), float64(n)/refresh.Seconds(), cpu2-cpu1, float64(n)/(cpu2-cpu1).Seconds())
	t.Logf("full listing of %d (no paging): p50 %s, p99 %s", n, pct(full, 50), pct(full, 99))
	t.Logf("no-change poll (304) over loopback, client-measured: p50 %s, p99 %s", pct(notMod, 50), pct(notMod, 99))
	t.Logf("registry RSS with %d held: %s (peak %s)", n, rss, hwm)
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)].Round(10 * time.Microsecond)
}

// procCPU is the user+system CPU time pid has used (/proc/pid/stat, in clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 on: state is f[0]
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.Atoi(f[11])
	k, _ := strconv.Atoi(f[12])
	return time.Duration(u+k) * 10 * time.Millisecond
}

// procMemory reads VmRSS and VmHWM of pid from /proc.
func procMemory(pid int) (rss, hwm string) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "VmRSS:" {
			rss = f[1] + " " + f[2]
		}
		if len(f) >= 3 && f[0] == "VmHWM:" {
			hwm = f[1] + " " + f[2]
		}
	}
	return rss, hwm
}
