package discovery

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkNotModified is the server time of a no-change poll (304) with 10,000 nodes held: the handler
// alone, without the network.
func BenchmarkNotModified(b *testing.B) {
	reg, err := NewRegistry(RegistryConfig{DataDir: b.TempDir(), MaxPerClient: 1 << 30, ReadRate: 1e12, ReadBurst: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer reg.Close()
	for i := range 10000 {
		id := fmt.Sprintf("node-%05d", i)
		info := PeerInfo{NodeID: id, BTPEndpoint: "wss://" + id + ".example.net:4000", ILPAddress: "g.m2m." + id, Capabilities: []string{"evm-settlement"}, Version: "1"}
		if st, msg, _ := reg.apply(info, fmt.Sprintf("%044d", i), nil, "", reg.cfg.Now()); st != http.StatusOK {
			b.Fatal(msg)
		}
	}
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
