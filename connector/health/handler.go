package health

import (
	"encoding/json"
	"math"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/m2mnet/m2m/connector/metrics"
)

// Overall states, the "status" of /health.
const (
	Healthy   = "healthy"   // every required dependency is up and nothing is wrong
	Degraded  = "degraded"  // ready, but an optional dependency is down or no discovered peer is connected
	Unhealthy = "unhealthy" // not ready: a required dependency is down, or the connector is shutting down
)

// PeerCounter reports how many peers are connected over BTP and how many peer discovery knows of.
// The connector's node and the discovery client satisfy it.
type PeerCounter interface {
	PeerCounts() (connected, discovered int)
}

// Options configures NewHandler.
type Options struct {
	Version string
	NodeID  string
	Started time.Time   // default: when NewHandler is called
	Monitor *Monitor    // required: readiness and the dependencies come from it
	Peers   PeerCounter // nil counts zero peers
	SLA     SLASource   // nil leaves the figures empty
	// Metrics serves /metrics and receives m2m_ready. m2m_peers is left to the node and the discovery client,
	// which own those counts.
	Metrics *metrics.Metrics
}

// Handler serves /health, /health/live, /health/ready and /metrics.
type Handler struct {
	opts     Options
	mux      *http.ServeMux
	draining atomic.Bool
}

// NewHandler wires the endpoints; readiness follows the monitor's checks from then on.
func NewHandler(o Options) *Handler {
	if o.Started.IsZero() {
		o.Started = time.Now()
	}
	h := &Handler{opts: o, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /health", h.health)
	h.mux.HandleFunc("GET /health/live", h.live)
	h.mux.HandleFunc("GET /health/ready", h.ready)
	if o.Metrics != nil {
		prom := promhttp.HandlerFor(o.Metrics.Registry, promhttp.HandlerOpts{})
		h.mux.Handle("GET /metrics", prom)
	}
	o.Monitor.onChange(h.refreshReady)
	h.refreshReady()
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Drain makes readiness fail from now on, so that orchestrators stop sending work during shutdown.
func (h *Handler) Drain() {
	h.draining.Store(true)
	h.refreshReady()
}

// Ready reports whether the connector can take work, and if not, why.
func (h *Handler) Ready() (bool, []string) {
	reasons := h.opts.Monitor.notReady()
	if h.draining.Load() {
		reasons = append([]string{"shutting down"}, reasons...)
	}
	return len(reasons) == 0, reasons
}

func (h *Handler) refreshReady() {
	if h.opts.Metrics == nil {
		return
	}
	v := 0.0
	if ok, _ := h.Ready(); ok {
		v = 1
	}
	h.opts.Metrics.Ready.Set(v)
}

func (h *Handler) peerCounts() (int, int) {
	if h.opts.Peers == nil {
		return 0, 0
	}
	return h.opts.Peers.PeerCounts()
}

func (h *Handler) live(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
}

type readyBody struct {
	Status  string   `json:"status"`
	Reasons []string `json:"reasons,omitempty"`
}

func (h *Handler) ready(w http.ResponseWriter, _ *http.Request) {
	if ok, reasons := h.Ready(); !ok {
		writeJSON(w, http.StatusServiceUnavailable, readyBody{Status: "not ready", Reasons: reasons})
		return
	}
	writeJSON(w, http.StatusOK, readyBody{Status: "ready"})
}

// Report is the body of /health.
type Report struct {
	Status        string                      `json:"status"`
	Reasons       []string                    `json:"reasons,omitempty"`
	Version       string                      `json:"version"`
	NodeID        string                      `json:"nodeId"`
	UptimeSeconds float64                     `json:"uptime"`
	Dependencies  map[string]DependencyStatus `json:"dependencies"`
	Peers         PeerReport                  `json:"peers"`
	SLA           SLA                         `json:"sla"`
}

// PeerReport is the "peers" object of /health.
type PeerReport struct {
	Connected  int `json:"connected"`
	Discovered int `json:"discovered"`
}

// Report builds what /health shows.
func (h *Handler) Report() Report {
	r := Report{Status: Healthy, Version: h.opts.Version, NodeID: h.opts.NodeID,
		UptimeSeconds: math.Round(time.Since(h.opts.Started).Seconds()), Dependencies: h.opts.Monitor.Statuses()}
	r.Peers.Connected, r.Peers.Discovered = h.peerCounts()
	if h.opts.SLA != nil {
		r.SLA = h.opts.SLA.SLA()
	}
	if ok, reasons := h.Ready(); !ok {
		r.Status, r.Reasons = Unhealthy, reasons
		return r
	}
	for _, n := range h.opts.Monitor.optionalDown() {
		r.Reasons = append(r.Reasons, n+": down (optional)")
	}
	if r.Peers.Discovered > 0 && r.Peers.Connected == 0 {
		r.Reasons = append(r.Reasons, "peers: none of the discovered peers is connected")
	}
	if len(r.Reasons) > 0 {
		r.Status = Degraded
	}
	return r
}

// health answers 503 when unhealthy, so that a plain HTTP probe needs no JSON parsing, and 200 otherwise.
func (h *Handler) health(w http.ResponseWriter, _ *http.Request) {
	r := h.Report()
	code := http.StatusOK
	if r.Status == Unhealthy {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, r)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
