package discovery

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"
)

type feedAnswer struct {
	Peers   []PeerInfo `json:"peers"`
	Removed []string   `json:"removed"`
	Total   int        `json:"total"`
	Cursor  string     `json:"cursor"`
	Next    string     `json:"next"`
	More    bool       `json:"more"`
	Error   string     `json:"error"`
}

// getFeed sends GET url with If-None-Match etag (when set) and returns the status, answer and ETag.
func getFeed(t *testing.T, url, etag string) (int, feedAnswer, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a feedAnswer
	if resp.StatusCode != http.StatusNotModified {
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("GET %s: %q is not JSON: %v", url, b, err)
		}
	} else if len(b) != 0 {
		t.Errorf("304 with a body: %q", b)
	}
	return resp.StatusCode, a, resp.Header.Get("ETag")
}

func TestChangeFeedReportsAddedChangedAndExpiredAnd304WhenNothingChanged(t *testing.T) {
	clk := newClock()
	_, base := startRegistry(t, RegistryConfig{Now: clk.Now, TTL: 30 * time.Second})
	alice, bob, carol := newTestNode(t, "alice"), newTestNode(t, "bob"), newTestNode(t, "carol")
	alice.announce(t, base)
	bob.announce(t, base)

	code, full, etag := getFeed(t, base+peersPath, "")
	if code != http.StatusOK || full.Cursor == "" || etag == "" || full.Total != 2 {
		t.Fatalf("listing: %d cursor %q etag %q total %d", code, full.Cursor, etag, full.Total)
	}
	if code, _, _ := getFeed(t, base+peersPath+"?since="+full.Cursor, etag); code != http.StatusNotModified {
		t.Fatalf("nothing changed: %d, want 304", code)
	}
	clk.Advance(10 * time.Second)
	alice.announce(t, base) // a refresh changes nothing listed
	if code, _, _ := getFeed(t, base+peersPath+"?since="+full.Cursor, etag); code != http.StatusNotModified {
		t.Fatalf("after a lastSeen refresh: %d, want 304", code)
	}

	carol.announce(t, base)
	code, ch, etag2 := getFeed(t, base+peersPath+"?since="+full.Cursor, etag)
	if code != http.StatusOK || !slices.Equal(nodeIDs(ch.Peers), []string{"carol"}) || len(ch.Removed) != 0 || etag2 == etag {
		t.Fatalf("after carol joined: %d peers %v removed %v etag %q→%q", code, nodeIDs(ch.Peers), ch.Removed, etag, etag2)
	}

	// bob stops announcing; alice and carol go on: bob expires after 2×TTL and is reported removed.
	clk.Advance(55 * time.Second)
	alice.announce(t, base)
	carol.announce(t, base)
	clk.Advance(10 * time.Second)
	code, ch2, _ := getFeed(t, base+peersPath+"?since="+ch.Cursor, etag2)
	if code != http.StatusOK || !slices.Equal(ch2.Removed, []string{"bob"}) || len(ch2.Peers) != 0 {
		t.Fatalf("after bob expired: %d peers %v removed %v", code, nodeIDs(ch2.Peers), ch2.Removed)
	}
	// A signed DELETE is a removal too.
	if code, _ := deleteSigned(t, base, "carol", carol.key, clk.Now()); code != http.StatusOK {
		t.Fatalf("DELETE carol: %d", code)
	}
	_, ch3, _ := getFeed(t, base+peersPath+"?since="+ch2.Cursor, "")
	if !slices.Equal(ch3.Removed, []string{"carol"}) {
		t.Fatalf("after carol deregistered: removed %v", ch3.Removed)
	}
}

func TestChangeFeedLimitHandsOverWithMore(t *testing.T) {
	_, base := startRegistry(t, RegistryConfig{})
	_, first, _ := getFeed(t, base+peersPath, "")
	for i := range 5 {
		newTestNode(t, fmt.Sprintf("n%d", i)).announce(t, base)
	}
	var got []string
	cursor := first.Cursor
	for range 10 {
		_, a, _ := getFeed(t, base+peersPath+"?limit=2&since="+cursor, "")
		got = append(got, nodeIDs(a.Peers)...)
		cursor = a.Cursor
		if !a.More {
			break
		}
	}
	if !slices.Equal(got, []string{"n0", "n1", "n2", "n3", "n4"}) {
		t.Fatalf("feed in pages of 2: %v", got)
	}
}

func TestPagingWalksEveryNodeOnceInOrder(t *testing.T) {
	_, base := startRegistry(t, RegistryConfig{})
	var want []string
	for i := range 25 {
		id := fmt.Sprintf("node-%02d", i)
		want = append(want, id)
		newTestNode(t, id).announce(t, base)
	}
	var got []string
	url := base + peersPath + "?limit=10"
	for pages := 1; ; pages++ {
		code, a, _ := getFeed(t, url, "")
		if code != http.StatusOK || a.Total != 25 || len(a.Peers) > 10 {
			t.Fatalf("page %d: %d total %d, %d peers", pages, code, a.Total, len(a.Peers))
		}
		got = append(got, nodeIDs(a.Peers)...)
		if a.Next == "" {
			if pages != 3 {
				t.Errorf("%d pages, want 3", pages)
			}
			break
		}
		url = base + peersPath + "?limit=10&cursor=" + a.Next
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages gave %v, want %v", got, want)
	}
}

func TestForeignOrStaleCursorAnswers410(t *testing.T) {
	_, a := startRegistry(t, RegistryConfig{})
	_, b := startRegistry(t, RegistryConfig{})
	newTestNode(t, "alice").announce(t, a)
	_, la, _ := getFeed(t, a+peersPath, "")
	for _, bad := range []string{la.Cursor, "nonsense", la.Cursor + "0"} {
		if code, ans, _ := getFeed(t, b+peersPath+"?since="+bad, ""); code != http.StatusGone || ans.Error == "" {
			t.Errorf("since=%s at another registry: %d %q, want 410", bad, code, ans.Error)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=x", "?cursor=a%20b", "?cursor=a&since=" + la.Cursor} {
		if code, ans, _ := getFeed(t, a+peersPath+q, ""); code != http.StatusBadRequest || ans.Error == "" {
			t.Errorf("GET %s: %d %q, want 400 with a reason", q, code, ans.Error)
		}
	}
}

func TestFeedSurvivesRestartAndCursorStaysValid(t *testing.T) {
	dir := t.TempDir()
	reg, base := startRegistry(t, RegistryConfig{DataDir: dir})
	newTestNode(t, "alice").announce(t, base)
	_, l, etag := getFeed(t, base+peersPath, "")
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	_, base2 := startRegistry(t, RegistryConfig{DataDir: dir})
	if code, _, _ := getFeed(t, base2+peersPath+"?since="+l.Cursor, etag); code != http.StatusNotModified {
		t.Fatalf("cursor after a restart: %d, want 304", code)
	}
	newTestNode(t, "bob").announce(t, base2)
	if _, ch, _ := getFeed(t, base2+peersPath+"?since="+l.Cursor, etag); !slices.Equal(nodeIDs(ch.Peers), []string{"bob"}) {
		t.Fatalf("after restart and bob: %v", nodeIDs(ch.Peers))
	}
}
