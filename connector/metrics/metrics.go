// Package metrics declares every m2m_* Prometheus metric the connector exports; dashboards and alert rules
// use exactly these names (docs/metrics.md).
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Packet results, the values of the "result" label of m2m_packets_total.
const (
	ResultFulfilled = "fulfilled"
	ResultRejected  = "rejected"
)

// Metrics holds the connector's collectors, registered on Registry.
type Metrics struct {
	Registry *prometheus.Registry

	// Packets counts ILP Prepare packets handled, by result (fulfilled|rejected) and ILP code ("" when fulfilled).
	Packets *prometheus.CounterVec
	// PacketDuration observes seconds from receiving a Prepare to answering it, by result.
	PacketDuration *prometheus.HistogramVec
	// Peers is the number of peers in each state (connected|disconnected|discovered).
	Peers *prometheus.GaugeVec
	// DependencyUp is 1 when a dependency (tigerbeetle|evm|xrpl|discovery) answered its last check, else 0.
	DependencyUp *prometheus.GaugeVec
	// DependencyLatency observes seconds per dependency check.
	DependencyLatency *prometheus.HistogramVec
	// LedgerOps observes seconds per ledger operation (ensure_account|prepare|post|void|balance|ping), by outcome (ok|error|timeout).
	LedgerOps *prometheus.HistogramVec
	// LedgerRetries counts post and void attempts repeated with the same id after an attempt got no answer, by
	// operation (post|void).
	LedgerRetries *prometheus.CounterVec
	// LedgerGiveUps counts posts and voids abandoned at their pending transfer's expiry without an answer, by
	// operation (post|void). A post given up is a payment the books miss.
	LedgerGiveUps *prometheus.CounterVec
	// BTPRefused counts connections the BTP port refused, by reason (auth|per_ip_limit|not_upgrade).
	BTPRefused *prometheus.CounterVec
	// Ready is 1 while /health/ready answers 200.
	Ready prometheus.Gauge
	// BuildInfo is always 1, labelled with version, commit and go version.
	BuildInfo *prometheus.GaugeVec
	// TLSCertExpiry is the Unix time the served TLS certificate expires; 0 while none is served (or TLS is off).
	TLSCertExpiry prometheus.Gauge
	// TLSRenewalFailures counts failed attempts to obtain or renew the TLS certificate.
	TLSRenewalFailures prometheus.Counter
}

// New registers the Go and process collectors and every m2m_* metric on a fresh registry.
func New(version, commit, goVersion string) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: reg,
		Packets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "m2m_packets_total", Help: "ILP Prepare packets handled, by result and ILP error code.",
		}, []string{"result", "code"}),
		PacketDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "m2m_packet_duration_seconds",
			Help:    "Time from receiving an ILP Prepare to answering it.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"result"}),
		Peers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "m2m_peers", Help: "Peers by state: connected, disconnected, discovered.",
		}, []string{"state"}),
		DependencyUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "m2m_dependency_up", Help: "1 when the dependency answered its last check, else 0.",
		}, []string{"dependency"}),
		DependencyLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "m2m_dependency_check_duration_seconds", Help: "Duration of dependency checks.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5},
		}, []string{"dependency"}),
		LedgerOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "m2m_ledger_operation_duration_seconds",
			Help:    "Duration of ledger operations, by operation and outcome.",
			Buckets: []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .5, 1, 5},
		}, []string{"operation", "outcome"}),
		LedgerRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "m2m_ledger_retries_total", Help: "Ledger post and void attempts repeated with the same id after one got no answer.",
		}, []string{"operation"}),
		LedgerGiveUps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "m2m_ledger_give_ups_total", Help: "Ledger posts and voids abandoned at the pending transfer's expiry without an answer.",
		}, []string{"operation"}),
		BTPRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "m2m_btp_connections_refused_total", Help: "Connections the BTP port refused, by reason (auth, per_ip_limit, not_upgrade).",
		}, []string{"reason"}),
		Ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "m2m_ready", Help: "1 while the connector is ready (/health/ready answers 200).",
		}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "m2m_build_info", Help: "Always 1; labelled with the build's version, commit and Go version.",
		}, []string{"version", "commit", "goversion"}),
		TLSCertExpiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "m2m_tls_certificate_expiry_timestamp_seconds", Help: "Unix time the served TLS certificate expires; 0 while none is served.",
		}),
		TLSRenewalFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "m2m_tls_renewal_failures_total", Help: "Failed attempts to obtain or renew the TLS certificate.",
		}),
	}
	reg.MustRegister(m.Packets, m.PacketDuration, m.Peers, m.DependencyUp, m.DependencyLatency, m.LedgerOps, m.LedgerRetries, m.LedgerGiveUps, m.BTPRefused, m.Ready, m.BuildInfo,
		m.TLSCertExpiry, m.TLSRenewalFailures)
	m.BuildInfo.WithLabelValues(version, commit, goVersion).Set(1)
	// Series that exist from the start at 0: a rate over a series born at its first packet sees no increase
	// for that packet, and dashboards show "no data" instead of 0 on a quiet node.
	m.Packets.WithLabelValues(ResultFulfilled, "")
	for _, r := range []string{ResultFulfilled, ResultRejected} {
		m.PacketDuration.WithLabelValues(r)
	}
	for _, op := range []string{"post", "void"} {
		m.LedgerRetries.WithLabelValues(op)
		m.LedgerGiveUps.WithLabelValues(op)
	}
	return m
}
