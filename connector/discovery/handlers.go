package discovery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/m2mnet/m2m/connector/identity"
)

const (
	peersPath    = "/api/v1/peers"
	announcePath = "/api/v1/peers/announce"
)

// deletePath is the path a DELETE for nodeID is signed over, whatever prefix a proxy puts in front.
func deletePath(nodeID string) string { return peersPath + "/" + nodeID }

// ServeHTTP routes the registry's protocol.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.closing.Load() {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "the discovery registry is shutting down; retry in a few seconds or use another registry")
		return
	}
	path := req.URL.Path
	if path == "/health" {
		if !allowMethod(w, req, http.MethodGet, http.MethodHead) {
			return
		}
		r.mu.Lock()
		n := len(r.nodes)
		r.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "nodes": n})
		return
	}
	if path != peersPath && !strings.HasPrefix(path, peersPath+"/") {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s; the registry serves %s, %s, %s/:nodeId and /health", quoteShort(path), announcePath, peersPath, peersPath))
		return
	}
	if !r.allow(w, req) {
		return
	}
	switch {
	case path == announcePath:
		if allowMethod(w, req, http.MethodPost) {
			r.announce(w, req)
		}
	case path == peersPath:
		if allowMethod(w, req, http.MethodGet, http.MethodHead) {
			r.list(w, req)
		}
	default:
		if allowMethod(w, req, http.MethodDelete) {
			r.deregister(w, req, strings.TrimPrefix(path, peersPath+"/"))
		}
	}
}

func (r *Registry) announce(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxBodyBytes))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("body is larger than %d bytes", maxBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "could not read the body: "+err.Error())
		return
	}
	keyHdr, sig, ts := req.Header.Get(HeaderPublicKey), req.Header.Get(HeaderSignature), req.Header.Get(HeaderTimestamp)
	if keyHdr == "" || sig == "" || ts == "" {
		writeError(w, http.StatusUnauthorized, fmt.Sprintf("announcement is not signed: send the node's public key in %s, the time in %s (Unix milliseconds) and in %s an ed25519 signature over %q + origin + timestamp + body, each line ended by \\n (see the onboarding guide)",
			HeaderPublicKey, HeaderTimestamp, HeaderSignature, identity.PurposeAnnounce))
		return
	}
	pub, err := identity.ParsePublicKey(keyHdr)
	if err != nil {
		writeError(w, http.StatusUnauthorized, HeaderPublicKey+": "+err.Error())
		return
	}
	now := r.cfg.Now()
	origin := r.requestOrigin(req)
	at, err := identity.VerifyMessage(pub, identity.PurposeAnnounce, origin, ts, sig, body, now, r.window())
	if err != nil {
		writeError(w, http.StatusUnauthorized, fmt.Sprintf("announcement refused (registry origin %s): %v", origin, err))
		return
	}
	info, err := decodeAnnouncement(body)
	if err == nil {
		err = r.checkEntry(info)
	}
	if err != nil {
		if errors.Is(err, ErrAddressNotOwned) || errors.Is(err, ErrInternalTarget) {
			r.log.Warn("announcement refused", "nodeId", info.NodeID, "client", r.clientNet(req), "reason", err)
		}
		writeError(w, http.StatusBadRequest, "invalid announcement: "+err.Error())
		return
	}

	key := identity.EncodePublicKey(pub)
	client := r.clientNet(req)
	signed := &SignedAnnouncement{Body: body, Signature: sig, Timestamp: ts, Origin: origin}
	status, msg, ticket := r.apply(info, key, signed, client, at, now)
	if status != http.StatusOK {
		if status == http.StatusConflict || status == http.StatusUnauthorized {
			r.log.Warn("announcement refused", "nodeId", info.NodeID, "client", client, "reason", msg)
		}
		writeError(w, status, msg)
		return
	}
	if ticket != 0 {
		if err := r.journal.wait(ticket); err != nil {
			r.log.Error("write registry state", "err", err)
			writeError(w, http.StatusInternalServerError, "the registry could not save the announcement; retry later")
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "ttl": int(r.cfg.TTL / time.Second)})
}

// apply records an announcement. The ticket, when not 0, is a change that must reach the disk before the
// answer (a new binding, a new endpoint, a return after deregistering or expiring); a lastSeen refresh is
// queued for the log without waiting.
func (r *Registry) apply(info PeerInfo, key string, signed *SignedAnnouncement, client string, at, now time.Time) (status int, msg string, ticket uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.nodes[info.NodeID]
	structural := !ok
	switch {
	case !ok:
		if status, msg := r.admit(info.NodeID, key, client, now); status != http.StatusOK {
			return status, msg, 0
		}
		rec = &record{NodeID: info.NodeID, PublicKey: key, From: client}
		r.added(rec)
		r.log.Info("node registered", "nodeId", info.NodeID, "btpEndpoint", info.BTPEndpoint, "ilpAddress", info.ILPAddress)
	case rec.PublicKey != key:
		return http.StatusConflict, fmt.Sprintf("nodeId %q is bound to another public key; a node keeps its id only with its own NODE_PRIVATE_KEY, so choose another NODE_ID", info.NodeID), 0
	case at.UnixMilli() <= max(rec.LastAnnounce, rec.LastDelete):
		return http.StatusUnauthorized, fmt.Sprintf("announcement refused: signed at %s, not after the last announcement or deregistration accepted for nodeId %q (%s); a replay, or this node's clock went back — sign a fresh one",
			at.UTC().Format(time.RFC3339Nano), info.NodeID, time.UnixMilli(max(rec.LastAnnounce, rec.LastDelete)).UTC().Format(time.RFC3339Nano)), 0
	case r.live(rec, now) && rec.BTPEndpoint != info.BTPEndpoint:
		return http.StatusConflict, fmt.Sprintf("nodeId %q is registered with btpEndpoint %s until %s; deregister it first (signed DELETE, done on a clean shutdown) or wait for it to expire",
			info.NodeID, quoteShort(rec.BTPEndpoint), time.UnixMilli(rec.LastSeen).Add(2*r.cfg.TTL).UTC().Format(time.RFC3339)), 0
	default:
		structural = rec.Deleted || !rec.Listed || rec.Source != "" || rec.BTPEndpoint != info.BTPEndpoint || rec.ILPAddress != info.ILPAddress ||
			rec.Version != info.Version || !slices.Equal(rec.Capabilities, info.Capabilities)
		rec.SeenAgain = true
	}
	rec.BTPEndpoint, rec.ILPAddress, rec.Version = info.BTPEndpoint, info.ILPAddress, info.Version
	rec.Capabilities = append([]string{}, info.Capabilities...)
	rec.Deleted, rec.Source, rec.Signed = false, "", signed
	rec.LastSeen, rec.LastAnnounce = now.UnixMilli(), at.UnixMilli()
	if structural {
		return http.StatusOK, "", r.changed(rec, now)
	}
	r.journal.put(rec)
	return http.StatusOK, "", 0
}

func (r *Registry) deregister(w http.ResponseWriter, req *http.Request, nodeID string) {
	if err := ValidNodeID(nodeID); err != nil {
		writeError(w, http.StatusBadRequest, "invalid path: "+err.Error())
		return
	}
	ts, sig := req.Header.Get(HeaderTimestamp), req.Header.Get(HeaderSignature)
	if ts == "" || sig == "" {
		writeError(w, http.StatusUnauthorized, fmt.Sprintf("DELETE is not signed: send %s (Unix milliseconds) and %s (ed25519 by the node's key over %q + origin + timestamp + nodeId, each line ended by \\n)", HeaderTimestamp, HeaderSignature, identity.PurposeDelete))
		return
	}
	r.mu.Lock()
	status, msg, ticket := r.applyDelete(nodeID, r.requestOrigin(req), ts, sig, r.cfg.Now())
	r.mu.Unlock()
	if status != http.StatusOK {
		if status == http.StatusUnauthorized {
			r.log.Warn("deregistration refused", "nodeId", nodeID, "client", r.clientNet(req), "reason", msg)
		}
		writeError(w, status, msg)
		return
	}
	if err := r.journal.wait(ticket); err != nil {
		r.log.Error("write registry state", "err", err)
		writeError(w, http.StatusInternalServerError, "the registry could not save the deregistration; retry later")
		return
	}
	r.log.Info("node deregistered", "nodeId", nodeID)
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
}

// applyDelete checks a signed DELETE against the key the node id is bound to; r.mu is held.
func (r *Registry) applyDelete(nodeID, origin, ts, sig string, now time.Time) (int, string, uint64) {
	rec, ok := r.nodes[nodeID]
	if !ok {
		return http.StatusNotFound, fmt.Sprintf("nodeId %q is not registered", nodeID), 0
	}
	pub, err := identity.ParsePublicKey(rec.PublicKey)
	if err != nil {
		return http.StatusInternalServerError, "the key bound to this node id is unreadable; ask the registry's operator", 0
	}
	at, err := identity.VerifyMessage(pub, identity.PurposeDelete, origin, ts, sig, []byte(nodeID), now, r.window())
	if err != nil {
		return http.StatusUnauthorized, fmt.Sprintf("DELETE refused (registry origin %s): %v", origin, err), 0
	}
	if at.UnixMilli() <= max(rec.LastAnnounce, rec.LastDelete) {
		return http.StatusUnauthorized, "DELETE refused: an announcement or deregistration signed at or after this timestamp was already accepted (replay); sign a fresh one", 0
	}
	// A DELETE dated ahead of this clock counts from now: otherwise it would hold off the node's
	// correct-clock messages until its date came.
	rec.Deleted, rec.LastDelete = true, min(at.UnixMilli(), now.UnixMilli())
	return http.StatusOK, "", r.changed(rec, now)
}

// decodeAnnouncement parses an announcement strictly, naming the field at fault.
func decodeAnnouncement(body []byte) (PeerInfo, error) {
	var in struct {
		NodeID       string          `json:"nodeId"`
		BTPEndpoint  string          `json:"btpEndpoint"`
		ILPAddress   string          `json:"ilpAddress"`
		Capabilities []string        `json:"capabilities"`
		Version      string          `json:"version"`
		LastSeen     json.RawMessage `json:"lastSeen"` // accepted from older clients and ignored: the registry sets it
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return PeerInfo{}, errors.New("body is empty; send the node's PeerInfo as a JSON object")
		case errors.As(err, &syn):
			return PeerInfo{}, fmt.Errorf("body is not valid JSON at byte %d: %v", syn.Offset, syn)
		case errors.As(err, &typ):
			return PeerInfo{}, &FieldError{Field: typ.Field, Reason: fmt.Sprintf("must be %s, got a JSON %s", jsonKind(typ.Field), typ.Value)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return PeerInfo{}, fmt.Errorf("%s; allowed: nodeId, btpEndpoint, ilpAddress, capabilities, version (the public key goes in %s)",
				strings.TrimPrefix(err.Error(), "json: "), HeaderPublicKey)
		default:
			return PeerInfo{}, fmt.Errorf("body is not valid JSON: %v", err)
		}
	}
	if dec.More() {
		return PeerInfo{}, errors.New("body has data after the JSON object; send exactly one object")
	}
	return PeerInfo{NodeID: in.NodeID, BTPEndpoint: in.BTPEndpoint, ILPAddress: in.ILPAddress, Capabilities: in.Capabilities, Version: in.Version}, nil
}

// window is how far signed timestamps may lie from the registry's clock.
func (r *Registry) window() identity.Window {
	return identity.Window{Past: r.cfg.MaxClockSkew, Future: r.cfg.MaxFutureSkew}
}

// checkEntry validates an announcement's fields, that its address is the node's own, and (without the
// private opt-in) that its endpoint is not internal. Mirrored entries go through it too.
func (r *Registry) checkEntry(info PeerInfo) error {
	if err := info.Validate(); err != nil {
		return err
	}
	if err := info.CheckOwnership(r.cfg.NetworkPrefix); err != nil {
		return err
	}
	if !r.cfg.AllowPrivate {
		return info.CheckTarget()
	}
	return nil
}

func jsonKind(field string) string {
	if strings.HasPrefix(field, "capabilities") {
		return "an array of strings"
	}
	return "a string"
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func allowMethod(w http.ResponseWriter, req *http.Request, methods ...string) bool {
	if slices.Contains(methods, req.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s; use %s", req.Method, req.URL.Path, strings.Join(methods, " or ")))
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"success": false, "error": msg})
}
