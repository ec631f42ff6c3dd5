package pipeline

import (
	"context"
	"reflect"
	"sync"
	"time"
)

// deadlines hands out the contexts that bound a packet's hop, shared by the packets that have the same parent
// context and the same outgoing expiry, which ILP counts in whole milliseconds. A context and a timer of its
// own cost every packet six allocations and a timer-heap insert and delete; under load a hundred packets a
// millisecond share one. A shared context ends at its deadline, or is cancelled once no packet holds it and
// it is not the parent's latest (which the next packets in the same millisecond will want): it never ends
// early while a packet holds it, and at most one idle context per parent (for at most maxIdle parents)
// waits for reuse.
type deadlines struct {
	mu     sync.Mutex
	m      map[deadlineKey]*deadlineCtx
	latest map[context.Context]*deadlineCtx
}

// maxIdle bounds the parents with an idle context kept for reuse. A parent per packet (a tracing span's
// context) would otherwise leave one behind per packet until its deadline.
const maxIdle = 64

type deadlineKey struct {
	parent context.Context
	ms     int64
}

// deadlineCtx is context.WithDeadline(context.WithoutCancel(parent), deadline) with a reference count.
type deadlineCtx struct {
	parent   context.Context
	deadline time.Time
	done     chan struct{}
	owner    *deadlines
	key      deadlineKey
	// Guarded by owner.mu. err is written before done is closed, so Err reads it without the lock.
	timer *time.Timer
	refs  int
	err   error
}

// hop is a packet's hold on its context; exactly one of shared and cancel is set.
type hop struct {
	ctx    context.Context
	shared *deadlineCtx
	cancel context.CancelFunc
}

// release ends the packet's hold: the last packet to let go of a shared context cancels it.
func (h hop) release() {
	if h.shared != nil {
		h.shared.release()
	} else {
		h.cancel()
	}
}

// acquire returns a hold on a context for parent that ends at d, truncated to the millisecond: the next hop
// is told the expiry in milliseconds, so the packet is over for it then. With share false (each packet has
// a parent of its own, such as its span's) it is context.WithDeadline's.
func (ds *deadlines) acquire(parent context.Context, d time.Time, share bool) hop {
	if !share || !hashable(parent) {
		ctx, cancel := context.WithDeadline(context.WithoutCancel(parent), d)
		return hop{ctx: ctx, cancel: cancel}
	}
	key := deadlineKey{parent: parent, ms: d.UnixMilli()}
	ds.mu.Lock()
	c := ds.m[key]
	if c == nil {
		c = ds.newLocked(key)
	}
	c.refs++
	ds.mu.Unlock()
	return hop{ctx: c, shared: c}
}

// hashable reports whether ctx can be a map key: a pointer always can, and so can Background; a context
// of another kind might hold something unhashable, and hashing it would panic.
func hashable(ctx context.Context) bool {
	return ctx != nil && (ctx == context.Background() || reflect.TypeOf(ctx).Kind() == reflect.Pointer)
}

func (ds *deadlines) newLocked(key deadlineKey) *deadlineCtx {
	if ds.m == nil {
		ds.m, ds.latest = map[deadlineKey]*deadlineCtx{}, map[context.Context]*deadlineCtx{}
	}
	c := &deadlineCtx{parent: key.parent, deadline: time.UnixMilli(key.ms), done: make(chan struct{}), owner: ds, key: key}
	dur := time.Until(c.deadline)
	if dur <= 0 {
		c.endLocked(context.DeadlineExceeded) // not shared: the next packet with this key gets a new one, ended too
		return c
	}
	prev, known := ds.latest[key.parent]
	if known && prev.refs == 0 {
		prev.endLocked(context.Canceled)
	}
	ds.m[key] = c
	if known || len(ds.latest) < maxIdle {
		ds.latest[key.parent] = c
	}
	c.timer = time.AfterFunc(dur, c.expire)
	return c
}

// expire ends c at its deadline; the packets still holding it see DeadlineExceeded.
func (c *deadlineCtx) expire() {
	c.owner.mu.Lock()
	defer c.owner.mu.Unlock()
	c.endLocked(context.DeadlineExceeded)
}

func (c *deadlineCtx) release() {
	c.owner.mu.Lock()
	defer c.owner.mu.Unlock()
	if c.refs--; c.refs == 0 && c.owner.latest[c.parent] != c {
		c.endLocked(context.Canceled)
	}
}

// endLocked takes c out of the maps, so that no packet picks it up any more, and closes done once.
func (c *deadlineCtx) endLocked(err error) {
	if c.owner.m[c.key] == c {
		delete(c.owner.m, c.key)
	}
	if c.owner.latest[c.parent] == c {
		delete(c.owner.latest, c.parent)
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.err == nil {
		c.err = err
		close(c.done)
	}
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *deadlineCtx) Done() <-chan struct{}       { return c.done }
func (c *deadlineCtx) Value(key any) any           { return c.parent.Value(key) }

func (c *deadlineCtx) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

func (c *deadlineCtx) String() string { return "pipeline.hopContext" }
