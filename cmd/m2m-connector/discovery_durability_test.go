package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/discovery"
	"github.com/m2mnet/m2m/connector/identity"
)

// TestKill9DuringABurstLosesNoAcknowledgedRegistration registers 1,000 nodes from 32 workers against the
// real binary, kills it with SIGKILL once a third have been answered, and checks after a restart on the same
// data dir that every registration answered 200 is listed.
func TestKill9DuringABurstLosesNoAcknowledgedRegistration(t *testing.T) {
	bin := buildConnector(t)
	data := filepath.Join(t.TempDir(), "data")
	open := []string{"--max-per-client", "5000", "--rate-limit", "100000", "--rate-burst", "100000", "--read-rate", "1000"}
	base, stop, proc := startDiscoveryProc(t, bin, data, open...)
	defer stop()

	const n = 1000
	reqs := make([]*http.Request, n)
	for i := range reqs {
		reqs[i] = signedAnnounce(t, base, fmt.Sprintf("burst-%04d", i))
	}
	var (
		mu    sync.Mutex
		acked []string
		count atomic.Int32
		kill  sync.Once
		wg    sync.WaitGroup
		next  atomic.Int32
	)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				resp, err := hc.Do(reqs[i])
				if err != nil {
					continue // killed mid-request: not acknowledged
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					continue
				}
				mu.Lock()
				acked = append(acked, fmt.Sprintf("burst-%04d", i))
				mu.Unlock()
				if count.Add(1) == n/3 {
					kill.Do(func() { _ = proc.Process.Kill() })
				}
			}
		})
	}
	wg.Wait()
	stop()
	if len(acked) < n/3 || len(acked) == n {
		t.Fatalf("%d of %d registrations acknowledged: the kill did not land mid-burst", len(acked), n)
	}

	base, stop2 := startDiscoveryProcess(t, bin, data, open...)
	defer stop2()
	listed := map[string]bool{}
	resp, err := http.Get(base + "/api/v1/peers?limit=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Peers []discovery.PeerInfo `json:"peers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	for _, p := range list.Peers {
		listed[p.NodeID] = true
	}
	var lost []string
	for _, id := range acked {
		if !listed[id] {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d acknowledged registrations lost after kill -9, e.g. %v", len(lost), len(acked), lost[:min(5, len(lost))])
	}
	t.Logf("killed after %d acknowledged of %d sent; %d listed after restart, none lost", len(acked), n, len(list.Peers))
}

// signedAnnounce builds a signed announcement for a fresh key.
func signedAnnounce(t *testing.T, base, id string) *http.Request {
	t.Helper()
	enc, pub, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	key, _ := identity.ParsePrivateKey(enc)
	body, _ := json.Marshal(discovery.PeerInfo{NodeID: id, BTPEndpoint: "wss://" + id + ".example:4000", ILPAddress: "g.m2m." + id, Capabilities: []string{}, Version: "1"})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/peers/announce", bytes.NewReader(body))
	req.Header.Set(discovery.HeaderPublicKey, identity.EncodePublicKey(ed25519.PublicKey(pub)))
	ts, sig := identity.SignMessage(key, identity.PurposeAnnounce, base, time.Now(), body)
	req.Header.Set(discovery.HeaderTimestamp, ts)
	req.Header.Set(discovery.HeaderSignature, sig)
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return req
}
