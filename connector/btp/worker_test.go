package btp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/ilp"
)

// TestAnswerStaysIntactWhileTheSessionReadsOn: the messages are read into reused buffers, so an answer the
// caller keeps must be its own copy.
func TestAnswerStaysIntactWhileTheSessionReadsOn(t *testing.T) {
	_, url := startServer(t, ServerConfig{
		Authenticate: tokenAuth(map[string]string{"t": "alice"}),
		Session:      SessionConfig{Handler: echoHandler},
	})
	cli, err := Dial(t.Context(), DialConfig{URL: url, Token: "t", PeerID: "server"})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	first, err := cli.SendPrepare(t.Context(), prepareTo(t, "test.first"))
	if err != nil {
		t.Fatal(err)
	}
	want := string(first)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			if _, err := cli.SendPrepare(t.Context(), prepareTo(t, fmt.Sprintf("test.other.n%03d", i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// A message larger than the pooled buffers (the largest ILP packet) is read whole.
	big, _ := (&ilp.Prepare{Amount: 1, ExpiresAt: time.Now().Add(time.Minute), Destination: "test.big", Data: make([]byte, ilp.MaxDataLength)}).MarshalBinary()
	if resp, err := cli.SendPrepare(t.Context(), big); err != nil {
		t.Fatal(err)
	} else if f, err := ilp.DecodeFulfill(resp); err != nil || string(f.Data) != "alice:test.big" {
		t.Fatalf("answer to a %d-byte Prepare: %q, %v", len(big), f.Data, err)
	}
	if string(first) != want {
		t.Fatalf("the first answer changed under the caller: %q, was %q", first, want)
	}
	if f, err := ilp.DecodeFulfill(first); err != nil || string(f.Data) != "alice:test.first" {
		t.Fatalf("first answer %q, %v; want a Fulfill with data alice:test.first", f.Data, err)
	}
}

// TestWorkersAreReusedThenRetired: the Prepares of a burst are handled at once by as many workers, which
// then wait for more; retireIdle (on every keepalive tick) lets them go, and a later Prepare still gets
// its answer.
func TestWorkersAreReusedThenRetired(t *testing.T) {
	const burst = 8
	arrived, release := make(chan struct{}, burst), make(chan struct{})
	blocking := HandlerFunc(func(ctx context.Context, peer string, prepare []byte) []byte {
		arrived <- struct{}{}
		<-release
		return echoHandler(ctx, peer, prepare)
	})
	cli, srv := sessionPair(t, blocking)

	var wg sync.WaitGroup
	for range burst {
		wg.Go(func() {
			if _, err := cli.SendPrepare(t.Context(), prepareTo(t, "test.burst")); err != nil {
				t.Error(err)
			}
		})
	}
	for range burst { // all of them are being handled at the same time: one worker each
		<-arrived
	}
	close(release)
	wg.Wait()
	waitFor(t, func() bool { return srv.idle.Load() == burst }, "every worker of the burst waits for more work")

	// The next packet goes to one of the idle workers rather than to a new one.
	if _, err := cli.SendPrepare(t.Context(), prepareTo(t, "test.again")); err != nil {
		t.Fatal(err)
	}
	<-arrived
	waitFor(t, func() bool { return srv.idle.Load() == burst }, "the worker that answered is idle again, and no other was started")

	for srv.idle.Load() > 0 {
		before := srv.idle.Load()
		srv.retireIdle()
		waitFor(t, func() bool { return srv.idle.Load() < before }, "retireIdle ends idle workers")
	}
	if _, err := cli.SendPrepare(t.Context(), prepareTo(t, "test.later")); err != nil {
		t.Fatalf("a Prepare after every worker retired: %v", err)
	}
}

// waitFor polls cond, which the session's own goroutines make true, for at most 10 s.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSessionEndReleasesWorkersAndWaiters: when the connection goes, the workers waiting for Prepares exit
// (none is left behind per session), and a Prepare sent and not yet answered fails with ErrClosed.
func TestSessionEndReleasesWorkersAndWaiters(t *testing.T) {
	arrived, release := make(chan struct{}, 4), make(chan struct{})
	defer close(release)
	blockOnce := HandlerFunc(func(ctx context.Context, peer string, prepare []byte) []byte {
		if p, err := ilp.DecodePrepare(prepare); err == nil && p.Destination == "test.hold" {
			arrived <- struct{}{}
			<-release
		}
		return echoHandler(ctx, peer, prepare)
	})
	cli, srv := sessionPair(t, blockOnce)
	for range 3 {
		if _, err := cli.SendPrepare(t.Context(), prepareTo(t, "test.quick")); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return srv.idle.Load() >= 1 }, "a worker waits for more work")

	held := make(chan error, 1)
	go func() { _, err := cli.SendPrepare(t.Context(), prepareTo(t, "test.hold")); held <- err }()
	<-arrived
	_ = srv.Close()
	waitFor(t, func() bool { return srv.idle.Load() == 0 }, "the idle workers exit once the session ended")
	select {
	case err := <-held:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Prepare in flight when the session ended: %v, want ErrClosed", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a Prepare in flight when the session ended is still waiting")
	}
}

// sessionPair is a client's session to a server whose Prepares h answers, and the server's side of it.
func sessionPair(t *testing.T, h Handler) (cli, srv *Session) {
	t.Helper()
	serverSide := make(chan *Session, 1)
	_, url := startServer(t, ServerConfig{
		Authenticate: tokenAuth(map[string]string{"t": "alice"}),
		OnSession:    func(s *Session) { serverSide <- s },
		Session:      SessionConfig{Handler: h},
	})
	cli, err := Dial(t.Context(), DialConfig{URL: url, Token: "t", PeerID: "server"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli, <-serverSide
}
