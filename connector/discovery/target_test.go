package discovery

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestInternalEndpointsAreRefusedAtAnnounce(t *testing.T) {
	_, base := startRegistry(t, RegistryConfig{})
	for _, ep := range []string{
		"ws://169.254.169.254/latest/meta-data", "ws://127.0.0.1:8080", "ws://localhost:2375", "ws://LOCALHOST.:2375",
		"ws://api.localhost:4000", "ws://10.0.0.1:4000", "ws://172.16.5.4:4000", "ws://192.168.1.1:4000", "ws://100.64.0.1:4000",
		"ws://[::1]:4000", "ws://[fe80::1]:4000", "ws://[fd00::1]:4000", "ws://[::ffff:127.0.0.1]:4000", "ws://[64:ff9b::a00:1]:4000",
		"ws://0.0.0.0:4000", "ws://[::]:4000", "ws://224.0.0.1:4000", "ws://255.255.255.255:4000",
		"ws://127.1:4000", "ws://2130706433:4000", "ws://0x7f.1:4000",
	} {
		n := newTestNode(t, "mallory")
		n.info.BTPEndpoint = ep
		code, a := n.announce(t, base)
		if code != http.StatusBadRequest || !strings.Contains(a.Error, "btpEndpoint") {
			t.Errorf("announce with %s: %d %q, want 400 naming btpEndpoint", ep, code, a.Error)
		}
	}
	if _, a := get(t, base+peersPath); *a.Total != 0 {
		t.Fatalf("internal endpoints were registered: %v", nodeIDs(a.Peers))
	}
	for _, ep := range []string{"wss://node.example.com:4000", "ws://203.0.113.7:4000", "ws://[2001:4860::1]:4000"} {
		n := newTestNode(t, "ok-"+strings.NewReplacer(".", "-", ":", "-", "/", "-", "[", "", "]", "").Replace(ep[5:]))
		n.info.BTPEndpoint = ep
		if code, a := n.announce(t, base); code != http.StatusOK {
			t.Errorf("public endpoint %s refused: %d %q", ep, code, a.Error)
		}
	}
}

func TestPrivateOptInAcceptsInternalEndpoints(t *testing.T) {
	_, base := startRegistry(t, RegistryConfig{AllowPrivate: true})
	n := newTestNode(t, "lan")
	n.info.BTPEndpoint = "ws://10.0.0.1:4000"
	if code, a := n.announce(t, base); code != http.StatusOK {
		t.Fatalf("with the opt-in: %d %q", code, a.Error)
	}
}

func TestDialControlRefusesANameThatResolvesToLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- struct{}{}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	// "localhost" passes no static check here: the dialer resolves it, and Control sees 127.0.0.1.
	d := net.Dialer{Timeout: 5 * time.Second, Control: DialControl}
	_, err = d.Dial("tcp", net.JoinHostPort("localhost", port))
	if !errors.Is(err, ErrInternalTarget) {
		t.Fatalf("dial localhost: %v, want ErrInternalTarget", err)
	}
	select {
	case <-accepted:
		t.Fatal("the loopback listener accepted a connection")
	default:
	}
	plain := net.Dialer{Timeout: 5 * time.Second}
	c, err := plain.Dial("tcp", net.JoinHostPort("localhost", port))
	if err != nil {
		t.Fatalf("control: the listener is not reachable without DialControl: %v", err)
	}
	c.Close()
}
