package chain

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// XRPL checks an XRP Ledger server with server_info over WebSocket.
type XRPL struct {
	URL string
	id  atomic.Uint64
}

// XRPLStatus is what a successful check learned.
type XRPLStatus struct {
	ServerState     string // "" from servers that do not report one (Clio)
	ValidatedLedger uint64
	BuildVersion    string
}

func (s XRPLStatus) String() string {
	state := s.ServerState
	if state == "" {
		state = "n/a"
	}
	return fmt.Sprintf("server state %s, validated ledger %d", state, s.ValidatedLedger)
}

// syncedStates are the server_state values of a rippled that follows the network.
var syncedStates = []string{"full", "proposing", "validating"}

// maxXRPLMessage bounds one server_info answer (a few KiB in practice).
const maxXRPLMessage = 1 << 20

// Check dials the server, sends server_info and requires a success answer from a synced server with a
// validated ledger.
func (x *XRPL) Check(ctx context.Context) (XRPLStatus, error) {
	where := Redact(x.URL)
	conn, _, err := websocket.Dial(ctx, x.URL, nil)
	if err != nil {
		return XRPLStatus{}, fmt.Errorf("server_info to %s: dial: %w", where, scrub(err))
	}
	defer conn.CloseNow()
	conn.SetReadLimit(maxXRPLMessage)
	id := x.id.Add(1)
	if err := wsjson.Write(ctx, conn, map[string]any{"id": id, "command": "server_info"}); err != nil {
		return XRPLStatus{}, fmt.Errorf("server_info to %s: send: %w", where, err)
	}
	var answer xrplAnswer
	// Skip anything that is not the answer to our request (a server may push other messages).
	for {
		answer = xrplAnswer{}
		if err := wsjson.Read(ctx, conn, &answer); err != nil {
			return XRPLStatus{}, fmt.Errorf("server_info to %s: read: %w", where, err)
		}
		if string(answer.ID) == fmt.Sprint(id) {
			break
		}
	}
	conn.Close(websocket.StatusNormalClosure, "")
	if answer.Status != "success" {
		msg := answer.ErrorMessage
		if msg == "" {
			msg = answer.Error
		}
		return XRPLStatus{}, fmt.Errorf("server_info to %s: status %q: %s", where, answer.Status, msg)
	}
	info := answer.Result.Info
	st := XRPLStatus{ServerState: info.ServerState, BuildVersion: info.BuildVersion}
	if info.ValidatedLedger != nil {
		st.ValidatedLedger = info.ValidatedLedger.Seq
	}
	if st.ServerState != "" && !slices.Contains(syncedStates, st.ServerState) {
		return st, fmt.Errorf("server_info to %s: server state is %q, not synced (want one of %v)", where, st.ServerState, syncedStates)
	}
	if st.ValidatedLedger == 0 {
		return st, fmt.Errorf("server_info to %s: no validated ledger yet", where)
	}
	return st, nil
}

// xrplAnswer is the part of a server_info response (rippled or Clio) that the check reads.
type xrplAnswer struct {
	ID           json.RawMessage `json:"id"`
	Status       string          `json:"status"`
	Type         string          `json:"type"`
	Error        string          `json:"error"`
	ErrorMessage string          `json:"error_message"`
	Result       struct {
		Info struct {
			BuildVersion    string `json:"build_version"`
			ServerState     string `json:"server_state"`
			ValidatedLedger *struct {
				Seq uint64 `json:"seq"`
			} `json:"validated_ledger"`
		} `json:"info"`
	} `json:"result"`
}
