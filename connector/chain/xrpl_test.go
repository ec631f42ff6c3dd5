package chain_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/m2mnet/m2m/connector/chain"
)

// standinXRPLServer speaks the rippled WebSocket API over a real WebSocket on 127.0.0.1: it answers server_info
// with info (nil: an error answer), after first pushing an unrelated message, as servers with subscriptions do.
func standinXRPLServer(t *testing.T, info map[string]any) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		var req struct {
			ID      any    `json:"id"`
			Command string `json:"command"`
		}
		if err := wsjson.Read(ctx, c, &req); err != nil {
			return
		}
		wsjson.Write(ctx, c, map[string]any{"type": "ledgerClosed", "ledger_index": 5})
		switch {
		case req.Command != "server_info":
			wsjson.Write(ctx, c, map[string]any{"id": req.ID, "status": "error", "error": "unknownCmd", "type": "response"})
		case info == nil:
			wsjson.Write(ctx, c, map[string]any{"id": req.ID, "status": "error", "error": "tooBusy",
				"error_message": "The server is too busy to help you now.", "type": "response"})
		default:
			wsjson.Write(ctx, c, map[string]any{"id": req.ID, "status": "success", "type": "response",
				"result": map[string]any{"info": info}})
		}
		c.Read(ctx) // wait for the client's close
	}))
	t.Cleanup(srv.Close)
	return srv
}

func wsURL(srv *httptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") }

func TestXRPLCheck(t *testing.T) {
	tests := []struct {
		name    string
		info    map[string]any
		want    chain.XRPLStatus
		wantErr string
	}{
		{"synced rippled", map[string]any{"server_state": "full", "build_version": "2.3.0",
			"validated_ledger": map[string]any{"seq": 93100200}},
			chain.XRPLStatus{ServerState: "full", ValidatedLedger: 93100200, BuildVersion: "2.3.0"}, ""},
		{"Clio reports no server_state", map[string]any{"validated_ledger": map[string]any{"seq": 7}},
			chain.XRPLStatus{ValidatedLedger: 7}, ""},
		{"syncing server is not up", map[string]any{"server_state": "syncing",
			"validated_ledger": map[string]any{"seq": 7}}, chain.XRPLStatus{}, `"syncing"`},
		{"no validated ledger", map[string]any{"server_state": "full"}, chain.XRPLStatus{}, "no validated ledger"},
		{"error answer", nil, chain.XRPLStatus{}, "too busy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := standinXRPLServer(t, tc.info)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := (&chain.XRPL{URL: wsURL(srv)}).Check(ctx)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestXRPLCheckHonoursTheDeadline(t *testing.T) {
	// A server that upgrades and then never answers.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.Read(r.Context())
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := (&chain.XRPL{URL: wsURL(srv)}).Check(ctx); err == nil {
		t.Fatal("a server that never answers passed the check")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("check took %s with a 200 ms deadline", took)
	}
}

func TestXRPLErrorsNeverShowTheURLPath(t *testing.T) {
	const key = "0123456789abcdef-secret"
	_, err := (&chain.XRPL{URL: "ws://127.0.0.1:1/" + key}).Check(context.Background())
	if err == nil || strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "ws://127.0.0.1:1/…") {
		t.Fatalf("err = %v; want a dial error naming ws://127.0.0.1:1/… without the path", err)
	}
}
