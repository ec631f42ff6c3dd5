package routing

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodPeers = `peers:
  - id: up
    btpUrl: ws://up.example:7768/
    authToken: tok-up
    relation: parent
  - id: bob
    btpUrl: wss://bob.example/btp
    authToken: tok-bob
    ilpPrefix: g.bob
    relation: peer
    maxPacketAmount: 1000
    creditLimit: 5000
  - id: kid
    authToken: tok-kid
    relation: child
`

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "peers.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadPeersFileReadsEveryField(t *testing.T) {
	peers, err := LoadPeersFile(writeFile(t, goodPeers))
	if err != nil {
		t.Fatal(err)
	}
	if len(peers) != 3 {
		t.Fatalf("got %d peers", len(peers))
	}
	bob := peers[1]
	if bob.ID != "bob" || bob.BTPURL != "wss://bob.example/btp" || bob.AuthToken != "tok-bob" || bob.ILPPrefix != "g.bob" ||
		bob.Relation != RelationPeer || bob.MaxPacketAmount != 1000 || bob.CreditLimit != 5000 {
		t.Fatalf("bob = %+v", bob)
	}
	if strings.Contains(bob.String(), "tok-bob") {
		t.Fatal("String() shows the token")
	}
}

func TestLoadPeersFileErrorsNameLineAndFix(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"unknown field", "peers:\n  - id: a\n    btpURL: ws://x/\n", []string{"line 3", "btpURL", "btpUrl"}},
		{"bad relation", "peers:\n  - id: a\n    authToken: t\n    relation: child\n  - id: b\n    authToken: u\n    relation: friend\n", []string{":5:", "relation \"friend\"", "parent, peer or child"}},
		{"missing token", "peers:\n  - id: a\n    relation: child\n", []string{":2:", "authToken is empty"}},
		{"duplicate id", "peers:\n  - {id: a, authToken: t, relation: child}\n  - {id: a, authToken: u, relation: child}\n", []string{":3:", "line 2"}},
		{"shared token", "peers:\n  - {id: a, authToken: s3cr3t, relation: child}\n  - {id: b, authToken: s3cr3t, relation: child}\n", []string{":3:", "same authToken"}},
		{"bad url", "peers:\n  - {id: a, authToken: t, relation: parent, btpUrl: 'http://x'}\n", []string{":2:", "ws://"}},
		{"bad prefix", "peers:\n  - {id: a, authToken: t, relation: peer, ilpPrefix: 'x.y'}\n", []string{":2:", "scheme"}},
		{"peer without prefix", "peers:\n  - {id: a, authToken: t, relation: peer}\n", []string{"ilpPrefix is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.body)
			_, err := LoadPeersFile(path)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range append(tt.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error shows a token: %v", err)
			}
		})
	}
}

func TestNextHopLongestPrefixOnSegments(t *testing.T) {
	tb := NewTable("g.conn")
	for _, p := range []Peer{
		{ID: "up", AuthToken: "1", Relation: RelationParent},
		{ID: "bob", AuthToken: "2", Relation: RelationPeer, ILPPrefix: "g.bob"},
		{ID: "bobeu", AuthToken: "3", Relation: RelationPeer, ILPPrefix: "g.bob.eu"},
		{ID: "kid", AuthToken: "4", Relation: RelationChild},
	} {
		if err := tb.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	for dest, want := range map[string]string{
		"g.bob":         "bob",
		"g.bob.us.x":    "bob",
		"g.bob.eu":      "bobeu",
		"g.bob.eu.anne": "bobeu",
		"g.bobby":       "up", // not a segment match: default route
		"g.conn.kid.z":  "kid",
		"test.other":    "up",
	} {
		if p, ok := tb.NextHop(dest); !ok || p.ID != want {
			t.Errorf("NextHop(%q) = %q, %v; want %q", dest, p.ID, ok, want)
		}
	}
	for _, dest := range []string{"g.conn", "g.conn.nobody"} {
		if p, ok := tb.NextHop(dest); ok {
			t.Errorf("own address %q routes to %s; want no route", dest, p.ID)
		}
	}
	tb.Remove("up")
	if p, ok := tb.NextHop("g.bobby"); ok {
		t.Errorf("without a parent g.bobby routes to %s", p.ID)
	}
	tb.Remove("bobeu") // a discovered peer going away: its traffic falls back to the shorter prefix
	if p, _ := tb.NextHop("g.bob.eu.anne"); p.ID != "bob" {
		t.Errorf("after removal g.bob.eu.anne routes to %q", p.ID)
	}
}

func TestAddRefusesTakenPrefixOrToken(t *testing.T) {
	tb := NewTable("g.conn")
	if err := tb.Add(Peer{ID: "a", AuthToken: "t1", Relation: RelationPeer, ILPPrefix: "g.a"}); err != nil {
		t.Fatal(err)
	}
	if err := tb.Add(Peer{ID: "b", AuthToken: "t2", Relation: RelationPeer, ILPPrefix: "g.a"}); err == nil || !strings.Contains(err.Error(), "already routes to peer a") {
		t.Fatalf("err = %v", err)
	}
	if err := tb.Add(Peer{ID: "b", AuthToken: "t1", Relation: RelationPeer, ILPPrefix: "g.b"}); err == nil || !strings.Contains(err.Error(), "already used by peer a") {
		t.Fatalf("err = %v", err)
	}
	// Replacing a peer by id with a new prefix moves its route.
	if err := tb.Add(Peer{ID: "a", AuthToken: "t1", Relation: RelationPeer, ILPPrefix: "g.a2"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := tb.NextHop("g.a.x"); ok {
		t.Fatal("old prefix still routes")
	}
}

func TestAuthenticateByToken(t *testing.T) {
	tb := NewTable("g.conn")
	_ = tb.Add(Peer{ID: "kid", AuthToken: "secret", Relation: RelationChild})
	if id, err := tb.Authenticate(context.Background(), "secret"); err != nil || id != "kid" {
		t.Fatalf("got %q, %v", id, err)
	}
	for _, tok := range []string{"", "Secret", "secret "} {
		if _, err := tb.Authenticate(context.Background(), tok); err == nil {
			t.Errorf("token %q accepted", tok)
		}
	}
}

func TestILDCPRoundTrip(t *testing.T) {
	in := ILDCPInfo{Address: "g.conn.kid", AssetScale: 9, AssetCode: "XRP"}
	out, err := DecodeILDCP(EncodeILDCP(in))
	if err != nil || out != in {
		t.Fatalf("got %+v, %v", out, err)
	}
	for _, bad := range [][]byte{nil, {5, 'g'}, append(EncodeILDCP(in), 0)} {
		if _, err := DecodeILDCP(bad); err == nil {
			t.Errorf("DecodeILDCP(%x) accepted", bad)
		}
	}
}
