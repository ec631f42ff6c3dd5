package btp

import (
	"io"
	"sync"
)

// msgPool holds the buffers incoming WebSocket messages are read into. A Message's buffer goes with its
// Prepare to a worker and comes back once the answer is written; a Response's is copied out and comes back
// at once. Reading a message used to cost a fresh buffer (io.ReadAll) every time.
var msgPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooled is the largest buffer kept for reuse: a peer's rare large packets (up to 64 KiB) should not leave
// a pool of large buffers behind them.
const maxPooled = 16 << 10

func putMsg(bp *[]byte) {
	if cap(*bp) <= maxPooled {
		msgPool.Put(bp)
	}
}

// readMessage reads r to its end into buf, growing it as needed.
func readMessage(r io.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// job is an incoming Prepare for a worker: the request to answer, and the buffer that prepare aliases. A job
// without a buffer tells the worker that receives it to exit.
type job struct {
	id      uint32
	prepare []byte
	buf     *[]byte
}

// dispatch hands j to an idle worker or, when none is waiting, to a new one. Workers outlive their packet:
// a goroutine per packet cost a spawn and, every time, the growth of a fresh stack to what the pipeline
// needs, about a tenth of the connector's CPU at 64 senders.
func (s *Session) dispatch(j job) {
	select {
	case s.jobs <- j:
	default:
		go s.work(j)
	}
}

// work answers j, then waits for more until the session ends or retireIdle lets it go. It waits on one
// channel only: a select over several costs a wake-up of every worker, every packet, a good deal more.
func (s *Session) work(j job) {
	for {
		s.answer(j)
		s.idle.Add(1)
		var ok bool
		j, ok = <-s.jobs
		s.idle.Add(-1)
		if !ok || j.buf == nil {
			return
		}
	}
}

// closeJobs tells every worker, idle or busy, to exit once it has nothing to do; readLoop calls it as it ends.
func (s *Session) closeJobs() {
	s.jobsMu.Lock()
	s.jobsClosed = true
	close(s.jobs)
	s.jobsMu.Unlock()
}

// answer runs the handler and writes its answer. The handler may not keep the prepare past its return:
// the buffer goes back to the pool here.
func (s *Session) answer(j job) {
	defer s.inWG.Done()
	resp := s.cfg.Handler.HandlePrepare(s.ctx, s.peerID, j.prepare)
	_ = s.writeILP(TypeResponse, j.id, resp)
	<-s.inSem
	putMsg(j.buf)
}

// retireIdle ends half of the idle workers (the last one too), so that a burst's workers do not wait for ever; the
// keepalive tick calls it.
func (s *Session) retireIdle() {
	s.jobsMu.Lock()
	defer s.jobsMu.Unlock()
	if s.jobsClosed {
		return
	}
	for n := (s.idle.Load() + 1) / 2; n > 0; n-- {
		select {
		case s.jobs <- job{}:
		default:
			return
		}
	}
}
