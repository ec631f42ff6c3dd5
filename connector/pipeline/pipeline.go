// Package pipeline is the path of an ILP Prepare through the connector: validate, reduce expiry, check the
// amount, rate-limit, route, hold the balance, forward with a deadline, check the fulfillment, post or void.
package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/ilp"
	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/metrics"
	"github.com/m2mnet/m2m/connector/routing"
)

// Next delivers a Prepare to a peer and returns its encoded Fulfill or Reject.
// btp.ErrBusy from it becomes T02; any other error T01, or R00 once the deadline has passed.
type Next interface {
	SendPrepare(ctx context.Context, peerID string, prepare []byte) ([]byte, error)
}

// Config holds the pipeline's settings. Zero durations take the RFC 0027 defaults.
type Config struct {
	Address    string // this connector's ILP address, the triggeredBy of its own rejects
	AssetCode  string // told to children through ILDCP
	AssetScale uint8
	// MaxHold caps how long a forwarded packet may stay pending: out = min(in − MinMargin, now + MaxHold).
	MaxHold time.Duration
	// MinMargin is both what the expiry is reduced by and the least time a next hop must be given (else R02).
	MinMargin time.Duration
	// RatePerPeer limits the Prepares per second accepted from each peer (T05 beyond it); 0 means no limit.
	RatePerPeer float64
	// RateBurst is how many packets may come at once before RatePerPeer applies; default one second's worth.
	RateBurst int
	// LedgerTimeout bounds the post or void after the answer, which no longer has the packet's deadline.
	LedgerTimeout time.Duration
	// Tracer, when set, records a span per forwarded packet (connector/tracing.Tracer). Leave it nil when
	// tracing is off: the hot path then does not even make the call.
	Tracer Tracer
}

// Tracer starts the span of a packet from peer to destination and returns the context to forward it with
// and the func that ends the span with the answer's code ("" for a fulfill).
type Tracer interface {
	StartPacket(ctx context.Context, peer, destination string) (context.Context, func(code string))
}

// Pipeline handles Prepares from peers. It is a btp.Handler.
type Pipeline struct {
	cfg     Config
	routes  *routing.Table
	ledger  ledger.Ledger
	next    Next
	log     *slog.Logger
	metrics *metrics.Metrics

	fulfilledCount prometheus.Counter
	fulfilledTime  prometheus.Observer
	rejectedTime   prometheus.Observer

	limiters  sync.Map // peer id → *bucket
	deadlines deadlines
	now       func() time.Time
}

// New assembles a pipeline.
func New(cfg Config, routes *routing.Table, l ledger.Ledger, next Next, m *metrics.Metrics, log *slog.Logger) *Pipeline {
	if cfg.MaxHold <= 0 {
		cfg.MaxHold = 30 * time.Second
	}
	if cfg.MinMargin <= 0 {
		cfg.MinMargin = time.Second
	}
	if cfg.LedgerTimeout <= 0 {
		cfg.LedgerTimeout = 5 * time.Second
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = max(1, int(cfg.RatePerPeer))
	}
	p := &Pipeline{cfg: cfg, routes: routes, ledger: l, next: next, log: log, metrics: m, now: time.Now,
		fulfilledCount: m.Packets.WithLabelValues(metrics.ResultFulfilled, ""),
		fulfilledTime:  m.PacketDuration.WithLabelValues(metrics.ResultFulfilled),
		rejectedTime:   m.PacketDuration.WithLabelValues(metrics.ResultRejected),
	}
	return p
}

// packet is one Prepare on its way through the stages.
type packet struct {
	from     string
	raw      []byte
	prepare  ilp.Prepare
	received time.Time
	answered time.Time // when the next hop's answer came (or the wait for it ended)
	outExp   time.Time
	hop      routing.Peer
	transfer ledger.Transfer
}

// HandlePrepare runs a Prepare from peer from through every stage and returns the Fulfill or Reject to send back.
func (p *Pipeline) HandlePrepare(ctx context.Context, from string, raw []byte) []byte {
	pk := packet{from: from, raw: raw, received: p.now()}
	resp, code := p.process(ctx, &pk)
	elapsed := time.Since(pk.received).Seconds()
	if code == "" {
		p.fulfilledCount.Inc()
		p.fulfilledTime.Observe(elapsed)
	} else {
		p.metrics.Packets.WithLabelValues(metrics.ResultRejected, string(code)).Inc()
		p.rejectedTime.Observe(elapsed)
	}
	return resp
}

// process returns the answer and, for a reject, its code.
func (p *Pipeline) process(ctx context.Context, pk *packet) ([]byte, ilp.Code) {
	if j := p.validate(pk); j != nil {
		return p.reject(pk, j)
	}
	if strings.HasPrefix(pk.prepare.Destination, routing.PeerPrefix+".") {
		return p.peerProtocol(pk)
	}
	if j := p.reduceExpiry(pk); j != nil {
		return p.reject(pk, j)
	}
	if j := p.checkMaxAmount(pk); j != nil {
		return p.reject(pk, j)
	}
	if j := p.rateLimit(pk); j != nil {
		return p.reject(pk, j)
	}
	if j := p.route(pk); j != nil {
		return p.reject(pk, j)
	}
	if p.cfg.Tracer == nil {
		return p.deliver(ctx, pk)
	}
	ctx, end := p.cfg.Tracer.StartPacket(ctx, pk.from, pk.prepare.Destination)
	resp, code := p.deliver(ctx, pk)
	end(string(code))
	return resp, code
}

// deliver books, forwards and settles a routed packet.
func (p *Pipeline) deliver(ctx context.Context, pk *packet) ([]byte, ilp.Code) {
	// One deadline, the outgoing expiry, bounds the ledger hold, the wait for the next hop and, when it leaves
	// time enough, the post or void. It does not end with the sender's session: booking must complete anyway.
	h := p.deadlines.acquire(ctx, pk.outExp, p.cfg.Tracer == nil)
	defer h.release()
	hopCtx := h.ctx
	if j := p.holdBalance(hopCtx, pk); j != nil {
		return p.reject(pk, j)
	}
	resp, j := p.forward(hopCtx, pk)
	pk.answered = p.now()
	var relayed ilp.Code // the next hop's own reject code, relayed unchanged
	if j == nil {
		relayed, j = p.checkFulfillment(pk, resp)
	}
	p.settle(hopCtx, pk, j == nil && relayed == "")
	if j != nil {
		return p.reject(pk, j)
	}
	return resp, relayed
}

// reject encodes j, naming this connector when no one else is named.
func (p *Pipeline) reject(pk *packet, j *ilp.Reject) ([]byte, ilp.Code) {
	if j.TriggeredBy == "" && ilp.ValidAddress(p.cfg.Address) == nil {
		j.TriggeredBy = p.cfg.Address
	}
	b, err := j.MarshalBinary()
	if err != nil { // only a bad message could do this; never leave a peer without an answer
		b, _ = (&ilp.Reject{Code: j.Code, TriggeredBy: j.TriggeredBy}).MarshalBinary()
	}
	if p.log.Enabled(context.Background(), slog.LevelDebug) {
		p.log.Debug("rejected packet", "from", pk.from, "destination", pk.prepare.Destination, "code", j.Code, "message", j.Message)
	}
	return b, j.Code
}

// isDeadline reports whether err means the deadline passed rather than the link failed.
func isDeadline(ctx context.Context, err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil
}

var _ btp.Handler = (*Pipeline)(nil)
