package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// feedPage is how many entries a client asks for per request: small answers, whatever the network's size.
const feedPage = 1000

// feedReader keeps one registry's listing current: a full listing (paged) on the first poll, and after that
// only the change feed from the last cursor, sent with If-None-Match so that a poll with no change costs a
// 304. A registry that does not page (an older one) answers the whole listing every time; that works too.
type feedReader struct {
	base    string
	http    *http.Client
	signed  bool // ask for the signed announcements (mirrors)
	cursor  string
	etag    string
	peers   map[string]wirePeer
	maxBody int64
	timeout time.Duration // per request
}

func newFeedReader(base string, hc *http.Client, signed bool, timeout time.Duration) *feedReader {
	return &feedReader{base: base, http: hc, signed: signed, peers: map[string]wirePeer{}, maxBody: 8 << 20, timeout: timeout}
}

// errCursorGone is a 410: the registry cannot serve changes from our cursor; list again.
type errCursorGone struct{ msg string }

func (e *errCursorGone) Error() string { return "HTTP 410: " + e.msg }

// poll brings the listing up to date and reports whether it changed. On an error the last listing stays.
func (f *feedReader) poll(ctx context.Context) (changed bool, err error) {
	if f.cursor != "" {
		changed, err = f.follow(ctx)
		if _, gone := err.(*errCursorGone); !gone {
			return changed, err
		}
		f.cursor, f.etag = "", ""
	}
	return true, f.list(ctx)
}

// list fetches the whole listing page by page; the first page's cursor is where the feed continues, so a
// change made while paging is read from the feed next time.
func (f *feedReader) list(ctx context.Context) error {
	peers := map[string]wirePeer{}
	var cursor, etag, next string
	for page := 0; ; page++ {
		q := url.Values{"limit": {strconv.Itoa(feedPage)}}
		if next != "" {
			q.Set("cursor", next)
		}
		var ans struct {
			Peers  []wirePeer `json:"peers"`
			Cursor string     `json:"cursor"`
			Next   string     `json:"next"`
		}
		tag, _, err := f.get(ctx, q, "", &ans)
		if err != nil {
			return err
		}
		if page == 0 {
			cursor, etag = ans.Cursor, tag
		}
		for _, p := range ans.Peers {
			peers[p.NodeID] = p
		}
		if ans.Next == "" || ans.Next == next || ans.Cursor == "" {
			break // the last page, or a registry that does not page and answered everything at once
		}
		next = ans.Next
	}
	f.peers, f.cursor, f.etag = peers, cursor, etag
	return nil
}

// follow applies the changes after the cursor.
func (f *feedReader) follow(ctx context.Context) (changed bool, err error) {
	for {
		q := url.Values{"since": {f.cursor}, "limit": {strconv.Itoa(feedPage)}}
		var ans struct {
			Peers   []wirePeer `json:"peers"`
			Removed []string   `json:"removed"`
			Cursor  string     `json:"cursor"`
			More    bool       `json:"more"`
		}
		tag, notModified, err := f.get(ctx, q, f.etag, &ans)
		if err != nil || notModified {
			return changed, err
		}
		if ans.Cursor == "" {
			return changed, fmt.Errorf("the change feed answer has no cursor")
		}
		for _, p := range ans.Peers {
			f.peers[p.NodeID] = p
		}
		for _, id := range ans.Removed {
			delete(f.peers, id)
		}
		changed = changed || len(ans.Peers)+len(ans.Removed) > 0
		f.cursor = ans.Cursor
		if !ans.More {
			f.etag = tag
			return changed, nil
		}
	}
}

// get sends GET peersPath?q and decodes a 200 into v; a 304 reports notModified.
func (f *feedReader) get(ctx context.Context, q url.Values, etag string, v any) (tag string, notModified bool, err error) {
	if f.signed {
		q.Set("signed", "1")
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+peersPath+"?"+q.Encode(), nil)
	if err != nil {
		return "", false, err
	}
	req.Header.Set("Accept", "application/json")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := f.http.Do(req)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return etag, true, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBody))
	if err != nil {
		return "", false, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		if e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		if resp.StatusCode == http.StatusGone {
			return "", false, &errCursorGone{e.Error}
		}
		return "", false, fmt.Errorf("HTTP %d: %s", resp.StatusCode, e.Error)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return "", false, fmt.Errorf("answer is not the expected JSON: %w", err)
	}
	return resp.Header.Get("ETag"), false, nil
}

// list returns the current listing as PeerInfo.
func (f *feedReader) infos() []PeerInfo {
	out := make([]PeerInfo, 0, len(f.peers))
	for _, p := range f.peers {
		out = append(out, p.PeerInfo)
	}
	return out
}
