package discovery

import (
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rateLimiter is a token bucket per client address.
type rateLimiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(perSecond float64, burst int, now func() time.Time) *rateLimiter {
	return &rateLimiter{rate: perSecond, burst: float64(burst), now: now, buckets: map[string]*bucket{}}
}

// allow takes one token from client's bucket, or says how long until one is available.
func (l *rateLimiter) allow(client string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[client]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[client] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	if l.rate <= 0 {
		return false, time.Hour
	}
	wait := (1 - b.tokens) / l.rate
	return false, time.Duration(math.Ceil(wait * float64(time.Second)))
}

func (l *rateLimiter) refill(b *bucket, now time.Time) {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.rate)
	}
	b.last = now
}

// sweep forgets clients whose bucket is full again, which bounds memory to the recently active clients.
func (l *rateLimiter) sweep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// allow charges req to its client network's read or write bucket, and answers 429 when it is empty.
func (r *Registry) allow(w http.ResponseWriter, req *http.Request) bool {
	l, kind, rate := r.writes, "writes", r.cfg.RateLimit
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		l, kind, rate = r.reads, "reads", r.cfg.ReadRate
	}
	ok, wait := l.allow(r.clientNet(req))
	if ok {
		return true
	}
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, fmt.Sprintf("rate limit of %g %s/s per client exceeded; retry after %d s", rate, kind, secs))
	return false
}

// clientNet is the client's network, the key of quotas and rate limits: its IPv4 address, or its IPv6 /64
// (one host usually holds a whole /64, so single addresses would let it rotate). The client's address is the
// connection's, or, when that is a trusted proxy, the last address in X-Forwarded-For that is not one: a
// header from anyone else is ignored, since any client can write it.
func (r *Registry) clientNet(req *http.Request) string {
	ip := remoteIP(req.RemoteAddr)
	if ip.IsValid() && r.trusted(ip) {
		ip = r.forwardedFor(req, ip)
	}
	if !ip.IsValid() {
		return req.RemoteAddr
	}
	return networkOf(ip)
}

// forwardedFor walks X-Forwarded-For from the right (the entries our proxies appended) past trusted proxies.
func (r *Registry) forwardedFor(req *http.Request, peer netip.Addr) netip.Addr {
	var hops []string
	for _, h := range req.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer // garbage in the chain: the proxy is the last address we can vouch for
		}
		ip = ip.Unmap()
		if !r.trusted(ip) {
			return ip
		}
		peer = ip
	}
	return peer
}

func (r *Registry) trusted(ip netip.Addr) bool {
	for _, p := range r.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func remoteIP(addr string) netip.Addr {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		ip, _ := netip.ParseAddr(addr)
		return ip.Unmap()
	}
	return ap.Addr().Unmap()
}

func networkOf(ip netip.Addr) string {
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.WithZone("").Prefix(64)
	return p.String()
}
