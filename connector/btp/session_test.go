package btp

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/m2mnet/m2m/connector/ilp"
)

// echoHandler answers every Prepare with a Fulfill whose data is the Prepare's destination.
var echoHandler = HandlerFunc(func(ctx context.Context, peerID string, prepare []byte) []byte {
	p, err := ilp.DecodePrepare(prepare)
	if err != nil {
		b, _ := (&ilp.Reject{Code: ilp.F01InvalidPacket, Message: err.Error()}).MarshalBinary()
		return b
	}
	b, _ := (&ilp.Fulfill{Data: []byte(peerID + ":" + p.Destination)}).MarshalBinary()
	return b
})

func tokenAuth(tokens map[string]string) func(context.Context, string) (string, error) {
	return func(_ context.Context, token string) (string, error) {
		if id, ok := tokens[token]; ok {
			return id, nil
		}
		return "", errors.New("unknown token")
	}
}

func startServer(t *testing.T, cfg ServerConfig) (*Server, string) {
	t.Helper()
	srv := NewServer(cfg)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return srv, "ws" + strings.TrimPrefix(hs.URL, "http")
}

func prepareTo(t testing.TB, dest string) []byte {
	b, err := (&ilp.Prepare{Amount: 1, ExpiresAt: time.Now().Add(time.Minute), Destination: dest}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSessionCarriesPreparesBothWays(t *testing.T) {
	serverSide := make(chan *Session, 1)
	_, url := startServer(t, ServerConfig{
		Authenticate: tokenAuth(map[string]string{"s3cret": "alice"}),
		OnSession:    func(s *Session) { serverSide <- s },
		Session:      SessionConfig{Handler: echoHandler},
	})
	ctx := t.Context()
	cli, err := Dial(ctx, DialConfig{URL: url, Token: "s3cret", PeerID: "server", Session: SessionConfig{Handler: echoHandler}})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	// Many concurrent requests: each answer must come back to its own request (ids unique in flight).
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			dest := fmt.Sprintf("test.dest.n%d", i)
			resp, err := cli.SendPrepare(ctx, prepareTo(t, dest))
			if err != nil {
				t.Error(err)
				return
			}
			f, err := ilp.DecodeFulfill(resp)
			if err != nil || string(f.Data) != "alice:"+dest {
				t.Errorf("answer %q (%v), want alice:%s", f.Data, err, dest)
			}
		})
	}
	wg.Wait()

	srvSess := <-serverSide
	resp, err := srvSess.SendPrepare(ctx, prepareTo(t, "test.back"))
	if err != nil {
		t.Fatal(err)
	}
	if f, err := ilp.DecodeFulfill(resp); err != nil || string(f.Data) != "server:test.back" {
		t.Fatalf("server→client answer %q, %v", f.Data, err)
	}
}

func TestAuthRefusesWrongToken(t *testing.T) {
	_, url := startServer(t, ServerConfig{
		Authenticate: tokenAuth(map[string]string{"right": "alice"}),
		Session:      SessionConfig{Handler: echoHandler},
	})
	_, err := Dial(t.Context(), DialConfig{URL: url, Token: "wrong", PeerID: "server"})
	if !errors.Is(err, ErrAuthRejected) {
		t.Fatalf("err = %v, want ErrAuthRejected", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("error leaks the token: %v", err)
	}
}

func TestInFlightLimitAnswersT03(t *testing.T) {
	release := make(chan struct{})
	slow := HandlerFunc(func(ctx context.Context, _ string, prepare []byte) []byte {
		<-release
		return echoHandler(ctx, "x", prepare)
	})
	_, url := startServer(t, ServerConfig{
		Authenticate: tokenAuth(map[string]string{"t": "alice"}),
		Session:      SessionConfig{Handler: slow, Limits: Limits{MaxInFlight: 2}, Address: "test.server"},
	})
	cli, err := Dial(t.Context(), DialConfig{URL: url, Token: "t", PeerID: "server"})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	results := make(chan []byte, 3)
	for range 2 {
		go func() { r, _ := cli.SendPrepare(t.Context(), prepareTo(t, "test.a")); results <- r }()
	}
	time.Sleep(100 * time.Millisecond) // let both occupy the server's slots
	third, err := cli.SendPrepare(t.Context(), prepareTo(t, "test.a"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := ilp.DecodeReject(third)
	if err != nil || j.Code != ilp.T03ConnectorBusy || j.TriggeredBy != "test.server" {
		t.Fatalf("third answer %+v, %v; want T03 from test.server", j, err)
	}
	close(release)
	for range 2 {
		if _, err := ilp.DecodeFulfill(<-results); err != nil {
			t.Fatalf("a packet within the limit was not fulfilled: %v", err)
		}
	}
}

func TestOversizedMessageEndsSession(t *testing.T) {
	serverSide := make(chan *Session, 1)
	_, url := startServer(t, ServerConfig{
		Authenticate: tokenAuth(map[string]string{"t": "alice"}),
		OnSession:    func(s *Session) { serverSide <- s },
		Session:      SessionConfig{Handler: echoHandler, Limits: Limits{MaxMessageSize: 1024}},
	})
	cli, err := Dial(t.Context(), DialConfig{URL: url, Token: "t", PeerID: "server"})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	big, _ := (&ilp.Prepare{ExpiresAt: time.Now(), Destination: "test.a", Data: make([]byte, 2000)}).MarshalBinary()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if _, err := cli.SendPrepare(ctx, big); err == nil {
		t.Fatal("an over-limit message was answered")
	}
	select {
	case <-(<-serverSide).Done():
	case <-time.After(2 * time.Second):
		t.Fatal("server kept the session after an over-limit message")
	}
}

func TestKeepAliveDetectsDeadPeer(t *testing.T) {
	serverSide := make(chan *Session, 1)
	_, url := startServer(t, ServerConfig{
		Authenticate: tokenAuth(map[string]string{"t": "alice"}),
		OnSession:    func(s *Session) { serverSide <- s },
		Session:      SessionConfig{Handler: echoHandler, Limits: Limits{KeepAlive: 50 * time.Millisecond}},
	})
	cli, err := Dial(t.Context(), DialConfig{URL: url, Token: "t", PeerID: "server"})
	if err != nil {
		t.Fatal(err)
	}
	srv := <-serverSide
	time.Sleep(200 * time.Millisecond) // several pings answered: the session must still be up
	select {
	case <-srv.Done():
		t.Fatalf("session with a live peer ended: %v", srv.Err())
	default:
	}
	cli.Close()
	select {
	case <-srv.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("server did not notice the peer went away")
	}
}

func TestClientReconnectsAfterSessionEnds(t *testing.T) {
	serverSide := make(chan *Session, 4)
	_, url := startServer(t, ServerConfig{
		Authenticate: tokenAuth(map[string]string{"t": "alice"}),
		OnSession:    func(s *Session) { serverSide <- s },
		Session:      SessionConfig{Handler: echoHandler},
	})
	sessions := make(chan *Session, 4)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := &Client{Dial: DialConfig{URL: url, Token: "t", PeerID: "server"}, Backoff: Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}, OnSession: func(s *Session) { sessions <- s }}
	go c.Run(ctx)
	first := <-sessions
	(<-serverSide).Close() // the server drops the peer
	<-first.Done()
	select {
	case second := <-sessions:
		if _, err := second.SendPrepare(ctx, prepareTo(t, "test.a")); err != nil {
			t.Fatalf("reconnected session does not work: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("client did not reconnect")
	}
}

func TestBackoffGrowsWithJitterUpToMax(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	for attempt, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		want *= time.Millisecond
		for range 50 {
			if d := b.Delay(attempt); d < want/2 || d > want {
				t.Fatalf("attempt %d: delay %s outside [%s, %s]", attempt, d, want/2, want)
			}
		}
	}
}

// TestServerAcceptsUsernameAndAnswersOnlyWhatItShould speaks BTP by hand: auth with the auth_username that
// older clients send, then packets that must get no answer, then one that must.
func TestServerAcceptsUsernameAndAnswersOnlyWhatItShould(t *testing.T) {
	_, url := startServer(t, ServerConfig{
		Authenticate: tokenAuth(map[string]string{"t": "alice"}),
		Session:      SessionConfig{Handler: echoHandler},
	})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	send := func(p Packet) {
		b, err := p.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.Write(ctx, websocket.MessageBinary, b); err != nil {
			t.Fatal(err)
		}
	}
	read := func() Packet {
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var p Packet
		if err := p.Decode(b); err != nil {
			t.Fatal(err)
		}
		return p
	}
	send(Packet{Type: TypeMessage, RequestID: 10, ProtocolData: []ProtocolData{
		{Name: "auth", Data: []byte{}},
		{Name: "auth_username", ContentType: TextPlain, Data: []byte("ignored")},
		{Name: "auth_token", ContentType: TextPlain, Data: []byte("t")},
	}})
	if p := read(); p.Type != TypeResponse || p.RequestID != 10 {
		t.Fatalf("auth answer %+v, want Response to 10", p)
	}
	_ = conn.Write(ctx, websocket.MessageBinary, []byte{0xff, 1, 2})                          // unparseable
	send(Packet{Type: TypeTransfer, RequestID: 11, Amount: 5})                                // unexpected
	send(Packet{Type: TypeResponse, RequestID: 12})                                           // a reply to nothing
	send(Packet{Type: TypeMessage, RequestID: 13, ProtocolData: []ProtocolData{{Name: "x"}}}) // no ilp entry
	send(Packet{Type: TypeMessage, RequestID: 14, ProtocolData: []ProtocolData{{Name: "ilp", Data: prepareTo(t, "test.z")}}})
	p := read()
	if p.Type != TypeResponse || p.RequestID != 14 {
		t.Fatalf("first answer after the noise is %s to %d; want Response to 14 (nothing else answered)", p.Type, p.RequestID)
	}
	if d, ok := p.Entry("ilp"); !ok {
		t.Fatal("Response lacks the ilp entry")
	} else if f, err := ilp.DecodeFulfill(d.Data); err != nil || string(f.Data) != "alice:test.z" {
		t.Fatalf("answer %q, %v", f.Data, err)
	}
}
