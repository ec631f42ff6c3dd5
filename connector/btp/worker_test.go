package btp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/m2mnet/m2m/connector/ilp"

	"github.com/m2mnet/m2m/internal/testenv"
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
	testenv.WaitFor(t, 30*time.Second, "every worker of the burst waits for more work", func() bool { return srv.idle.Load() == burst })

	// The next packet goes to one of the idle workers rather than to a new one.
	if _, err := cli.SendPrepare(t.Context(), prepareTo(t, "test.again")); err != nil {
		t.Fatal(err)
	}
	<-arrived
	testenv.WaitFor(t, 30*time.Second, "the worker that answered is idle again, and no other was started", func() bool { return srv.idle.Load() == burst })

	for srv.idle.Load() > 0 {
		before := srv.idle.Load()
		srv.retireIdle()
		testenv.WaitFor(t, 30*time.Second, "retireIdle ends idle workers", func() bool { return srv.idle.Load() < before })
	}
	if _, err := cli.SendPrepare(t.Context(), prepareTo(t, "test.later")); err != nil {
		t.Fatalf("a Prepare after every worker retired: %v", err)
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
	testenv.WaitFor(t, 30*time.Second, "a worker waits for more work", func() bool { return srv.idle.Load() >= 1 })

	held := make(chan error, 1)
	go func() { _, err := cli.SendPrepare(t.Context(), prepareTo(t, "test.hold")); held <- err }()
	<-arrived
	_ = srv.Close()
	testenv.WaitFor(t, 30*time.Second, "the idle workers exit once the session ended", func() bool { return srv.idle.Load() == 0 })
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
