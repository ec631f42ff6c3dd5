package discovery

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/identity"
)

// BenchmarkNotModified is the server time of a no-change poll (304) with 10,000 nodes held: the handler
// alone, without the network.
func BenchmarkNotModified(b *testing.B) {
	reg := registryOf10k(b)
	w := httptest.NewRecorder()
	reg.ServeHTTP(w, httptest.NewRequest(http.MethodGet, peersPath+"?limit=1", nil))
	etag := w.Header().Get("ETag")
	req := httptest.NewRequest(http.MethodGet, peersPath+"?since=x", nil)
	req.Header.Set("If-None-Match", etag)
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		reg.ServeHTTP(w, req)
		if w.Code != http.StatusNotModified {
			b.Fatalf("%d, want 304", w.Code)
		}
	}
}

// BenchmarkAnnounce is the server side of a new signed registration (durable before its answer), with
// requests from parallel clients sharing fsyncs: the handler alone, without the network.
func BenchmarkAnnounce(b *testing.B) {
	reg, err := NewRegistry(RegistryConfig{DataDir: b.TempDir(), MaxNodes: 1 << 30, MaxPerClient: 1 << 30, RateLimit: 1e12, RateBurst: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer reg.Close()
	nodes := make([]testNode, b.N)
	bodies := make([][]byte, b.N)
	for i := range nodes {
		nodes[i] = newTestNode(b, fmt.Sprintf("node-%07d", i))
		bodies[i] = nodes[i].body(b)
	}
	var next atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			req := httptest.NewRequest(http.MethodPost, announcePath, bytes.NewReader(bodies[i]))
			req.Header.Set(HeaderPublicKey, identity.EncodePublicKey(nodes[i].pub()))
			ts, sig := identity.SignMessage(nodes[i].key, identity.PurposeAnnounce, "http://example.com", time.Now(), bodies[i])
			req.Header.Set(HeaderTimestamp, ts)
			req.Header.Set(HeaderSignature, sig)
			w := httptest.NewRecorder()
			reg.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("%d %s", w.Code, w.Body)
				return
			}
		}
	})
}

// BenchmarkListPage is the server time of the page of 1,000 a connector asks for on its first poll, at
// 10,000 nodes (encoding included, the network not).
func BenchmarkListPage(b *testing.B) {
	reg := registryOf10k(b)
	req := httptest.NewRequest(http.MethodGet, peersPath+"?limit=1000&cursor=node-04999", nil)
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		reg.ServeHTTP(w, req)
		if w.Code != http.StatusOK || w.Body.Len() < 100000 {
			b.Fatalf("%d, %d bytes", w.Code, w.Body.Len())
		}
	}
}

// registryOf10k is a registry holding 10,000 nodes, closed when b ends.
func registryOf10k(b *testing.B) *Registry {
	b.Helper()
	reg, err := NewRegistry(RegistryConfig{DataDir: b.TempDir(), MaxPerClient: 1 << 30, ReadRate: 1e12, ReadBurst: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { reg.Close() })
	for i := range 10000 {
		id := fmt.Sprintf("node-%05d", i)
		info := PeerInfo{NodeID: id, BTPEndpoint: "wss://" + id + ".example.net:4000", ILPAddress: "g.m2m." + id, Capabilities: []string{"evm-settlement"}, Version: "1"}
		if st, msg, _ := reg.apply(info, fmt.Sprintf("%044d", i), nil, "", reg.cfg.Now(), reg.cfg.Now()); st != http.StatusOK {
			b.Fatal(msg)
		}
	}
	return reg
}
