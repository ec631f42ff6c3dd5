package btp

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestClientSendsTheTokenFuncsFreshTokenOnEveryDial(t *testing.T) {
	// The server takes each token once, as with a token that expires: a redial must bring a new one.
	var mu sync.Mutex
	used := map[string]bool{}
	_, url := startServer(t, ServerConfig{
		Authenticate: func(_ context.Context, tok string) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			if used[tok] {
				return "", errors.New("token already used")
			}
			used[tok] = true
			return "alice", nil
		},
		OnSession: func(s *Session) { go func() { time.Sleep(20 * time.Millisecond); s.Close() }() }, // drop each session soon
		Session:   SessionConfig{Handler: echoHandler},
	})
	tests := []struct {
		name     string
		dial     DialConfig
		min, max int // sessions within the second allowed
	}{
		{"TokenFunc over Token", DialConfig{URL: url, Token: "fixed-a", TokenFunc: counter("fresh"), PeerID: "server"}, 3, 1000},
		{"fixed Token only", DialConfig{URL: url, Token: "fixed-b", PeerID: "server"}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			c := &Client{Dial: tt.dial, Backoff: Backoff{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond}, OnSession: func(*Session) { n.Add(1) }}
			c.Run(ctx)
			if got := int(n.Load()); got < tt.min || got > tt.max {
				t.Fatalf("%d sessions in 1 s; want %d to %d", got, tt.min, tt.max)
			}
		})
	}
}

// counter makes prefix-1, prefix-2, … on successive calls.
func counter(prefix string) func() string {
	var n atomic.Int64
	return func() string { return prefix + "-" + strconv.FormatInt(n.Add(1), 10) }
}
