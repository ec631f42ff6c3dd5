// Package health tells operators and orchestrators whether the connector can do its job: it checks the
// dependencies periodically and serves /health, /health/live, /health/ready and /metrics.
package health

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/m2mnet/m2m/connector/metrics"
)

// Dependency states, the "status" of each entry under "dependencies" in /health.
const (
	StatusUp       = "up"
	StatusDown     = "down"
	StatusUnknown  = "unknown"  // not checked yet
	StatusDisabled = "disabled" // not used by this node's configuration; never checked
)

// Dependency is something the connector needs, checked every Interval with at most Timeout per check.
type Dependency struct {
	Name string // tigerbeetle, evm, xrpl, discovery: the label of m2m_dependency_up
	// Required dependencies gate /health/ready; a failing optional one only makes /health "degraded".
	Required bool
	// Check makes one real round trip; detail (such as a block number) is shown in /health. nil: disabled.
	Check    func(ctx context.Context) (detail string, err error)
	Interval time.Duration // default 10 s
	Timeout  time.Duration // default 5 s
}

// DependencyStatus is the last check's outcome.
type DependencyStatus struct {
	Status    string     `json:"status"`
	Required  bool       `json:"required"`
	LatencyMs *float64   `json:"latencyMs"`
	LastError string     `json:"lastError"`
	CheckedAt *time.Time `json:"checkedAt"`
	Detail    string     `json:"detail,omitempty"`
}

// Monitor runs the dependency checks and keeps their last results.
type Monitor struct {
	deps    []Dependency
	metrics *metrics.Metrics
	log     *slog.Logger
	now     func() time.Time

	mu       sync.Mutex
	statuses map[string]DependencyStatus
	changed  func() // called after every check, to refresh readiness
}

// NewMonitor prepares the checks; Run starts them. m and log may be nil.
func NewMonitor(m *metrics.Metrics, log *slog.Logger, deps ...Dependency) *Monitor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mon := &Monitor{deps: deps, metrics: m, log: log, now: time.Now, statuses: map[string]DependencyStatus{}, changed: func() {}}
	for i := range mon.deps {
		d := &mon.deps[i]
		if d.Interval <= 0 {
			d.Interval = 10 * time.Second
		}
		if d.Timeout <= 0 {
			d.Timeout = 5 * time.Second
		}
		st := DependencyStatus{Status: StatusUnknown, Required: d.Required}
		if d.Check == nil {
			st = DependencyStatus{Status: StatusDisabled}
		}
		mon.statuses[d.Name] = st
	}
	return mon
}

// Run checks every enabled dependency at once and then every Interval, until ctx is done.
func (m *Monitor) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, d := range m.deps {
		if d.Check == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(d.Interval)
			defer t.Stop()
			for {
				m.check(ctx, d)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	wg.Wait()
}

// CheckAll runs every enabled check once, concurrently, and returns when all are done.
func (m *Monitor) CheckAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, d := range m.deps {
		if d.Check != nil {
			wg.Add(1)
			go func() { defer wg.Done(); m.check(ctx, d) }()
		}
	}
	wg.Wait()
}

func (m *Monitor) check(ctx context.Context, d Dependency) {
	cctx, cancel := context.WithTimeout(ctx, d.Timeout)
	start := m.now()
	detail, err := d.Check(cctx)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: a cancelled check says nothing about the dependency
	}
	took := time.Since(start)
	ms := float64(took.Microseconds()) / 1000
	at := m.now().UTC()
	st := DependencyStatus{Status: StatusUp, Required: d.Required, LatencyMs: &ms, CheckedAt: &at, Detail: detail}
	if err != nil {
		st.Status, st.LastError, st.Detail = StatusDown, err.Error(), ""
	}
	m.mu.Lock()
	prev := m.statuses[d.Name]
	m.statuses[d.Name] = st
	changed := m.changed
	m.mu.Unlock()

	switch {
	case st.Status == StatusDown && prev.Status != StatusDown:
		m.log.Warn("dependency down", "dependency", d.Name, "required", d.Required, "error", st.LastError)
	case st.Status == StatusUp && prev.Status != StatusUp:
		m.log.Info("dependency up", "dependency", d.Name, "latencyMs", ms, "detail", detail)
	}
	if m.metrics != nil {
		up := 0.0
		if err == nil {
			up = 1
		}
		m.metrics.DependencyUp.WithLabelValues(d.Name).Set(up)
		m.metrics.DependencyLatency.WithLabelValues(d.Name).Observe(took.Seconds())
	}
	changed()
}

// Statuses returns the last result of every dependency, by name.
func (m *Monitor) Statuses() map[string]DependencyStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]DependencyStatus, len(m.statuses))
	for k, v := range m.statuses {
		out[k] = v
	}
	return out
}

// notReady lists why the required dependencies do not allow readiness, in name order; empty means ready.
func (m *Monitor) notReady() []string {
	st := m.Statuses()
	names := make([]string, 0, len(st))
	for n := range st {
		names = append(names, n)
	}
	sort.Strings(names)
	var reasons []string
	for _, n := range names {
		s := st[n]
		switch {
		case !s.Required || s.Status == StatusUp:
		case s.Status == StatusUnknown:
			reasons = append(reasons, n+": not checked yet")
		default:
			reasons = append(reasons, n+": "+s.LastError)
		}
	}
	return reasons
}

// optionalDown names the optional dependencies whose last check failed.
func (m *Monitor) optionalDown() []string {
	var out []string
	for n, s := range m.Statuses() {
		if !s.Required && s.Status == StatusDown {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func (m *Monitor) onChange(f func()) {
	m.mu.Lock()
	m.changed = f
	m.mu.Unlock()
}
