package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/m2mnet/m2m/connector/btp"
	"github.com/m2mnet/m2m/connector/ilp"
	"github.com/m2mnet/m2m/connector/ledger"
	"github.com/m2mnet/m2m/connector/metrics"
	"github.com/m2mnet/m2m/connector/routing"
)

func rejectf(code ilp.Code, format string, args ...any) *ilp.Reject {
	return &ilp.Reject{Code: code, Message: fmt.Sprintf(format, args...)}
}

// validate decodes the Prepare strictly (which checks the destination address) and refuses expired ones.
func (p *Pipeline) validate(pk *packet) *ilp.Reject {
	prep, err := ilp.DecodePrepare(pk.raw)
	if err != nil {
		return rejectf(ilp.F01InvalidPacket, "%v", err)
	}
	pk.prepare = prep
	if !prep.ExpiresAt.After(pk.received) {
		return rejectf(ilp.R00TransferTimedOut, "packet expired at %s", prep.ExpiresAt.Format(time.RFC3339Nano))
	}
	return nil
}

// reduceExpiry gives the next hop out = min(in − MinMargin, now + MaxHold), and refuses (R02) when that leaves
// the next hop less than MinMargin.
func (p *Pipeline) reduceExpiry(pk *packet) *ilp.Reject {
	out := pk.prepare.ExpiresAt.Add(-p.cfg.MinMargin)
	if limit := pk.received.Add(p.cfg.MaxHold); limit.Before(out) {
		out = limit
	}
	if left := out.Sub(pk.received); left < p.cfg.MinMargin {
		return rejectf(ilp.R02InsufficientTimeout, "expiry leaves the next hop %s, at least %s needed", left.Round(time.Millisecond), p.cfg.MinMargin)
	}
	pk.outExp = out
	return nil
}

// checkMaxAmount refuses a packet above the sending peer's maxPacketAmount with F08 and its data.
func (p *Pipeline) checkMaxAmount(pk *packet) *ilp.Reject {
	from, ok := p.routes.Get(pk.from)
	if !ok {
		return rejectf(ilp.T00InternalError, "sending peer %s is not configured", pk.from)
	}
	return amountTooLarge(pk.prepare.Amount, from.MaxPacketAmount)
}

func amountTooLarge(amount, maximum uint64) *ilp.Reject {
	if maximum == 0 || amount <= maximum {
		return nil
	}
	return &ilp.Reject{Code: ilp.F08AmountTooLarge, Message: fmt.Sprintf("amount %d exceeds the maximum packet amount %d", amount, maximum),
		Data: ilp.AmountTooLargeData(amount, maximum)}
}

// rateLimit applies the per-peer token bucket (T05).
func (p *Pipeline) rateLimit(pk *packet) *ilp.Reject {
	if p.cfg.RatePerPeer <= 0 {
		return nil
	}
	v, ok := p.limiters.Load(pk.from)
	if !ok {
		v, _ = p.limiters.LoadOrStore(pk.from, newBucket(p.cfg.RatePerPeer, p.cfg.RateBurst, pk.received))
	}
	if !v.(*bucket).take(pk.received) {
		return rejectf(ilp.T05RateLimited, "more than %g packets per second from peer %s", p.cfg.RatePerPeer, pk.from)
	}
	return nil
}

// route picks the next hop (F02 when none, or when the route leads back to the sender) and applies the next
// hop's own maxPacketAmount, which it would refuse anyway.
func (p *Pipeline) route(pk *packet) *ilp.Reject {
	hop, ok := p.routes.NextHop(pk.prepare.Destination)
	if !ok {
		return rejectf(ilp.F02Unreachable, "no route to %s", pk.prepare.Destination)
	}
	if hop.ID == pk.from {
		return rejectf(ilp.F02Unreachable, "the route to %s leads back to the sending peer", pk.prepare.Destination)
	}
	pk.hop = hop
	return amountTooLarge(pk.prepare.Amount, hop.MaxPacketAmount)
}

// holdBalance records the pending transfer from the sender's account to the next hop's (T04 past the
// sender's credit limit). The ledger voids it by itself if the connector never comes back.
func (p *Pipeline) holdBalance(ctx context.Context, pk *packet) *ilp.Reject {
	if pk.prepare.Amount == 0 {
		return nil
	}
	pk.transfer = ledger.Transfer{
		ID:      p.ledger.NewTransferID(),
		Debit:   pk.from,
		Credit:  pk.hop.ID,
		Amount:  pk.prepare.Amount,
		Timeout: max(time.Second, pk.prepare.ExpiresAt.Sub(pk.received)),
	}
	err := p.ledger.Prepare(ctx, pk.transfer)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ledger.ErrInsufficientLiquidity):
		return rejectf(ilp.T04InsufficientLiquidity, "peer %s is past its credit limit", pk.from)
	case errors.Is(err, ledger.ErrAmountOverflow):
		p.log.Error("ledger prepare refused: totals would overflow", "from", pk.from, "to", pk.hop.ID, "amount", pk.transfer.Amount, "err", err)
		pk.transfer = ledger.Transfer{}
		return rejectf(ilp.T00InternalError, "the ledger cannot hold amount %d for this account: its totals would overflow", pk.prepare.Amount)
	default:
		p.log.Error("ledger prepare failed", "from", pk.from, "to", pk.hop.ID, "err", err)
		pk.transfer = ledger.Transfer{}
		return rejectf(ilp.T00InternalError, "ledger unavailable")
	}
}

// forward sends the Prepare, with its reduced expiry, to the next hop and waits at most until ctx's deadline,
// that expiry.
func (p *Pipeline) forward(ctx context.Context, pk *packet) ([]byte, *ilp.Reject) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	out, err := ilp.AppendWithExpiry((*bp)[:0], pk.raw, pk.outExp)
	*bp = out
	if err != nil {
		return nil, rejectf(ilp.T00InternalError, "cannot forward: %v", err)
	}
	resp, err := p.next.SendPrepare(ctx, pk.hop.ID, out)
	switch {
	case err == nil:
		return resp, nil
	case isDeadline(ctx, err):
		return nil, rejectf(ilp.R00TransferTimedOut, "next hop %s did not answer before the expiry", pk.hop.ID)
	case errors.Is(err, btp.ErrBusy):
		return nil, rejectf(ilp.T02PeerBusy, "too many packets in flight to %s", pk.hop.ID)
	default:
		return nil, rejectf(ilp.T01PeerUnreachable, "next hop %s is unreachable", pk.hop.ID)
	}
}

// checkFulfillment accepts a Fulfill only if it hashes to the condition and came before the expiry, and a
// Reject only if it decodes. It returns the code of a valid Reject to relay, or a reject of its own.
func (p *Pipeline) checkFulfillment(pk *packet, resp []byte) (ilp.Code, *ilp.Reject) {
	t, err := ilp.PacketType(resp)
	if err == nil && t == ilp.TypeFulfill {
		f, err := ilp.DecodeFulfill(resp)
		switch {
		case err != nil:
			return "", rejectf(ilp.T00InternalError, "next hop %s sent an invalid Fulfill", pk.hop.ID)
		case !ilp.Fulfills(f.Fulfillment, pk.prepare.ExecutionCondition):
			return "", rejectf(ilp.F05WrongCondition, "fulfillment from %s does not match the condition", pk.hop.ID)
		case pk.answered.After(pk.outExp):
			return "", rejectf(ilp.R00TransferTimedOut, "fulfillment from %s came after the expiry", pk.hop.ID)
		}
		return "", nil
	}
	if err == nil && t == ilp.TypeReject {
		if j, err := ilp.DecodeReject(resp); err == nil {
			return j.Code, nil
		}
	}
	return "", rejectf(ilp.T00InternalError, "next hop %s answered with an invalid packet", pk.hop.ID)
}

// settle posts the pending transfer on a valid Fulfill and voids it otherwise. The answer is already decided.
// An attempt that got no answer may or may not have been applied, so it is repeated with the same id (the
// ledger answers "exists" to a repeat) in the background, until the pending transfer's own expiry, without
// holding the answer back: a Fulfill must reach the sender before its expiry.
func (p *Pipeline) settle(ctx context.Context, pk *packet, fulfilled bool) {
	if pk.transfer.Amount == 0 {
		return
	}
	// ctx ends at the packet's expiry; when that is near or past (R00) the void must still happen, so it
	// gets a fresh bound. The common case keeps ctx and spares a timer per packet.
	if dl, _ := ctx.Deadline(); dl.Sub(pk.answered) < p.cfg.LedgerTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), p.cfg.LedgerTimeout)
		defer cancel()
	}
	op, retry, err := "post", ledger.RetryPost, error(nil)
	if fulfilled {
		err = p.ledger.Post(ctx, pk.transfer.ID)
	} else {
		op, retry, err = "void", ledger.RetryVoid, p.ledger.Void(ctx, pk.transfer.ID)
	}
	switch {
	case err == nil:
	case ledger.Retryable(err):
		p.log.Warn("ledger "+op+" got no answer; retrying until the transfer expires", "transfer", fmt.Sprintf("%x", pk.transfer.ID),
			"from", pk.from, "to", pk.hop.ID, "amount", pk.transfer.Amount, "err", err)
		go p.retryUntil(retry, pk.transfer.ID, pk.transfer.Expires(pk.received))
	default:
		p.log.Error("ledger "+op+" failed", "transfer", fmt.Sprintf("%x", pk.transfer.ID), "from", pk.from, "to", pk.hop.ID,
			"amount", pk.transfer.Amount, "err", err)
	}
}

// retryUntil repeats a post or void until the ledger answers or expires passes; the ledger counts and logs it.
func (p *Pipeline) retryUntil(retry func(context.Context, ledger.Ledger, ledger.TransferID, *metrics.Metrics, *slog.Logger) error,
	id ledger.TransferID, expires time.Time) {
	ctx, cancel := context.WithDeadline(context.Background(), expires)
	defer cancel()
	_ = retry(ctx, p.ledger, id, p.metrics, p.log)
}

// peerProtocol answers peer.* packets here; they are never forwarded. peer.config (ILDCP) tells a child its
// address; peer.route.* (route broadcast) is acknowledged, as routes here come from configuration and discovery.
func (p *Pipeline) peerProtocol(pk *packet) ([]byte, ilp.Code) {
	dest := pk.prepare.Destination
	switch {
	case dest == routing.ILDCPDestination:
		from, ok := p.routes.Get(pk.from)
		if !ok || from.Relation != routing.RelationChild {
			return p.reject(pk, rejectf(ilp.F00BadRequest, "peer.config is answered for children only; peer %s is not a child", pk.from))
		}
		info := routing.ILDCPInfo{Address: p.routes.Prefix(from), AssetScale: p.cfg.AssetScale, AssetCode: p.cfg.AssetCode}
		b, _ := (&ilp.Fulfill{Fulfillment: routing.PeerProtocolFulfillment, Data: routing.EncodeILDCP(info)}).MarshalBinary()
		return b, ""
	case dest == routing.RoutePrefix || len(dest) > len(routing.RoutePrefix) && dest[:len(routing.RoutePrefix)+1] == routing.RoutePrefix+".":
		b, _ := (&ilp.Fulfill{Fulfillment: routing.PeerProtocolFulfillment}).MarshalBinary()
		return b, ""
	default:
		return p.reject(pk, rejectf(ilp.F02Unreachable, "peer protocol %s is not served here", dest))
	}
}
