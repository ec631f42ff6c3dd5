package discovery

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/identity"

	"github.com/m2mnet/m2m/internal/testenv"
)

// linkSink is a recordingSink that also answers PeerChecker (up says whether sessions are up) and
// records PeerRemover calls.
type linkSink struct {
	recordingSink
	up      atomic.Bool
	removed sync.Map
}

func (s *linkSink) Connected(string) bool    { return s.up.Load() }
func (s *linkSink) RemovePeer(nodeID string) { s.removed.Store(nodeID, true) }

func TestPeerDownForAnIntervalIsHandedOverAgainAndRemovedWhenItLeaves(t *testing.T) {
	const interval = 50 * time.Millisecond
	clk := newClock()
	_, base := startRegistry(t, RegistryConfig{Now: clk.Now})
	bob := newTestNode(t, "bob")
	bob.announce(t, base)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	alice := newTestNode(t, "alice")
	sink := &linkSink{}
	sink.up.Store(true)
	c, done := startClient(t, ctx, ClientConfig{
		Endpoints: []string{base}, Self: alice.info, Key: alice.key, Sink: sink, Interval: interval, Now: clk.Now,
	})
	testenv.WaitFor(t, 30*time.Second, "bob handed over", func() bool { return sink.callCount() == 1 })
	if _, conn := c.Counts(); conn != 1 {
		t.Fatalf("connected = %d with the session up", conn)
	}
	time.Sleep(3 * interval)
	if n := sink.callCount(); n != 1 {
		t.Fatalf("AddPeer called %d times for a peer whose session is up", n)
	}

	sink.up.Store(false)
	if _, conn := c.Counts(); conn != 0 {
		t.Fatalf("connected = %d with the session down", conn)
	}
	time.Sleep(3 * interval) // several ticks, but the test clock has not moved: not down for an Interval yet
	if n := sink.callCount(); n != 1 {
		t.Fatalf("AddPeer called again (%d) before the peer was down for an interval", n)
	}
	clk.Advance(interval)
	testenv.WaitFor(t, 30*time.Second, "bob handed over again", func() bool { return sink.callCount() == 2 })

	// bob deregisters: alice's sink is told to drop him.
	if code, _ := deleteNow(t, base, "bob", bob.key); code != http.StatusOK {
		t.Fatalf("bob's DELETE: %d", code)
	}
	testenv.WaitFor(t, 30*time.Second, "bob removed", func() bool { _, ok := sink.removed.Load("bob"); return ok })
	if d, _ := c.Counts(); d != 0 {
		t.Fatalf("discovered = %d after bob left", d)
	}
	cancel()
	<-done
}

func TestAuthenticatorSendsSharedTokensToTheFallback(t *testing.T) {
	_, base := startRegistry(t, RegistryConfig{})
	bob := newTestNode(t, "bob")
	c, err := NewClient(ClientConfig{Endpoints: []string{base}, Self: bob.info, Key: bob.key, Sink: &recordingSink{}})
	if err != nil {
		t.Fatal(err)
	}
	static := func(_ context.Context, tok string) (string, error) {
		if tok == "shared-secret-of-static-peer" {
			return "static-peer", nil
		}
		return "", errors.New("unknown token")
	}
	if id, err := c.Authenticator(nil, static)(context.Background(), "shared-secret-of-static-peer"); err != nil || id != "static-peer" {
		t.Fatalf("shared token with fallback: %q, %v", id, err)
	}
	if _, err := c.Authenticator(nil, nil)(context.Background(), "shared-secret-of-static-peer"); err == nil {
		t.Fatal("shared token accepted without a fallback")
	}
	dave := newTestNode(t, "dave")
	if _, err := c.Authenticator(nil, static)(context.Background(), identity.NewToken(dave.key, "dave", "bob", time.Minute)); !errors.Is(err, identity.ErrUnknownNode) {
		t.Fatalf("a signed token from an unknown node reached the fallback or passed: %v", err)
	}
}
