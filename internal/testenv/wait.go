package testenv

import (
	"net"
	"testing"
	"time"
)

// WaitFor checks cond until it holds and returns how long that took; after within, t fails naming what.
// It polls quickly at first and backs off to 200 ms, so a condition that holds at once costs nothing and a
// slow one does not spin. Prefer waiting on an event (a channel, a log line) where the code offers one.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	pause := 5 * time.Millisecond
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(pause)
		pause = min(2*pause, 200*time.Millisecond)
	}
	return time.Since(start)
}

// FreePort returns a TCP port that is free on every interface at this moment, for a setting that must be
// known before the process that binds it starts (an announced URL, a published port).
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
