package discovery

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/m2mnet/m2m/internal/atomicfile"
)

// StateFileName is the registry's snapshot inside its data directory; LogFileName is the append-only log of
// the changes made since that snapshot. Start-up reads the snapshot and replays the log.
const (
	StateFileName = "registry.json"
	LogFileName   = "registry.log"
)

const stateVersion = 1

// record is one node the registry knows. A deregistered node keeps its record (Deleted) so that its id stays
// bound to its key: otherwise every graceful shutdown would leave the id free for anyone to take.
type record struct {
	NodeID       string   `json:"nodeId"`
	BTPEndpoint  string   `json:"btpEndpoint"`
	ILPAddress   string   `json:"ilpAddress"`
	Capabilities []string `json:"capabilities"`
	Version      string   `json:"version"`
	PublicKey    string   `json:"publicKey"`
	LastSeen     int64    `json:"lastSeen"` // Unix milliseconds
	Deleted      bool     `json:"deleted,omitempty"`
	// LastDelete is the signed time (Unix ms, at most the registry's clock then) of the newest DELETE
	// accepted and LastAnnounce that of the newest announcement: a message signed at or before either is
	// a replay.
	LastDelete   int64 `json:"lastDelete,omitempty"`
	LastAnnounce int64 `json:"lastAnnounce,omitempty"`

	// Seq is the change number of the record's last listed change (the change feed's order); Listed is
	// whether it was listed after that change, so that an expiry becomes a change of its own.
	Seq    uint64 `json:"seq,omitempty"`
	Listed bool   `json:"listed,omitempty"`
	// SeenAgain is set by the first announcement after the one that registered the node: a registry that is
	// full evicts the entries never seen again first.
	SeenAgain bool `json:"seenAgain,omitempty"`
	// From is the client network (IP, or /64 for IPv6) that registered the node, for its quota.
	From string `json:"from,omitempty"`
	// Signed is the announcement as the node signed it, served to mirrors so they can verify it themselves.
	Signed *SignedAnnouncement `json:"signed,omitempty"`
	// Source is the registry a mirrored record came from; empty for nodes that announced here.
	Source string `json:"source,omitempty"`
}

type stateFile struct {
	Version int `json:"version"`
	// Epoch names this registry's history: a feed cursor from another epoch (a wiped or different registry)
	// is refused instead of being read as a position in this one.
	Epoch string `json:"epoch,omitempty"`
	// Floor is the highest change number of a record forgotten since: a feed cursor below it missed a removal.
	Floor uint64   `json:"floor,omitempty"`
	Nodes []record `json:"nodes"`
}

// logEntry is one line of the log: a record's whole new state, or a forgotten node id.
type logEntry struct {
	Put    *record `json:"put,omitempty"`
	Forget string  `json:"forget,omitempty"`
	Floor  uint64  `json:"floor,omitempty"`
}

// state is what start-up recovers.
type state struct {
	epoch  string
	floor  uint64
	nodes  map[string]*record
	logLen int64 // bytes of whole lines in the log; a torn tail after them is cut off
}

// loadState reads the snapshot and replays the log over it; missing files are an empty registry. A torn last
// line (a write cut by a crash, never acknowledged) is ignored.
func loadState(dir string) (state, error) {
	st := state{nodes: map[string]*record{}}
	path := filepath.Join(dir, StateFileName)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return st, fmt.Errorf("read registry state %s: %w", path, err)
	default:
		var sf stateFile
		if err := json.Unmarshal(b, &sf); err != nil {
			return st, fmt.Errorf("registry state %s is not valid JSON (%v); move it aside to start with an empty registry", path, err)
		}
		if sf.Version != stateVersion {
			return st, fmt.Errorf("registry state %s has version %d, this build reads version %d; use a matching m2m-connector", path, sf.Version, stateVersion)
		}
		st.epoch, st.floor = sf.Epoch, sf.Floor
		for i := range sf.Nodes {
			r := sf.Nodes[i]
			if ValidNodeID(r.NodeID) != nil || r.PublicKey == "" {
				return st, fmt.Errorf("registry state %s: entry %d (nodeId %s) is incomplete; move the file aside to start with an empty registry", path, i, quoteShort(r.NodeID))
			}
			st.nodes[r.NodeID] = &r
		}
	}
	if err := replayLog(dir, &st); err != nil {
		return st, err
	}
	if st.epoch == "" {
		var e [8]byte
		_, _ = rand.Read(e[:])
		st.epoch = hex.EncodeToString(e[:])
	}
	return st, nil
}

func replayLog(dir string, st *state) error {
	path := filepath.Join(dir, LogFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read registry log %s: %w", path, err)
	}
	// A last line without its newline is the torn tail of a write that was never acknowledged.
	whole := b[:bytes.LastIndexByte(b, '\n')+1]
	st.logLen = int64(len(whole))
	for line, l := 1, whole; len(l) > 0; line++ {
		i := bytes.IndexByte(l, '\n')
		var e logEntry
		if err := json.Unmarshal(l[:i], &e); err != nil {
			return fmt.Errorf("registry log %s line %d is not valid JSON (%v); move it aside to start from the snapshot %s", path, line, err, StateFileName)
		}
		l = l[i+1:]
		switch {
		case e.Put != nil:
			if ValidNodeID(e.Put.NodeID) != nil || e.Put.PublicKey == "" {
				return fmt.Errorf("registry log %s line %d: entry for nodeId %s is incomplete; move the file aside to start from the snapshot", path, line, quoteShort(e.Put.NodeID))
			}
			st.nodes[e.Put.NodeID] = e.Put
		case e.Forget != "":
			delete(st.nodes, e.Forget)
			st.floor = max(st.floor, e.Floor)
		}
	}
	return nil
}

// journal appends changes to the log with group commit: callers queue their lines and wait; one of them
// writes everything queued so far and fsyncs once for the whole batch. Compaction writes a new snapshot and
// empties the log.
type journal struct {
	dir string

	mu       sync.Mutex
	cond     *sync.Cond
	f        *os.File
	size     int64
	pending  []byte
	queued   uint64 // number of the last line queued
	durable  uint64 // number of the last line on disk
	flushing bool   // someone is writing or compacting
	err      error  // the last write error, reported to the waiters of that batch
}

// openJournal opens the log for appending, cut to its first validLen bytes (the whole lines loadState read).
func openJournal(dir string, validLen int64) (*journal, error) {
	path := filepath.Join(dir, LogFileName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open registry log %s: %w", path, err)
	}
	if err := f.Truncate(validLen); err != nil {
		f.Close()
		return nil, fmt.Errorf("cut the torn tail of registry log %s: %w", path, err)
	}
	j := &journal{dir: dir, f: f, size: validLen}
	j.cond = sync.NewCond(&j.mu)
	return j, nil
}

// put queues a record's new state and returns the ticket to wait for. Call it under the lock that orders the
// changes, so that the log replays them in the order they were made.
func (j *journal) put(rec *record) uint64 {
	c := *rec
	return j.queue(logEntry{Put: &c})
}

func (j *journal) forget(nodeID string, floor uint64) uint64 {
	return j.queue(logEntry{Forget: nodeID, Floor: floor})
}

func (j *journal) queue(e logEntry) uint64 {
	b, _ := json.Marshal(e) // plain strings and numbers: cannot fail
	j.mu.Lock()
	defer j.mu.Unlock()
	j.pending = append(append(j.pending, b...), '\n')
	j.queued++
	return j.queued
}

// wait returns once line ticket is on disk. If nobody is writing, the caller writes every queued line itself
// and fsyncs once; otherwise it waits for the batch in progress and, if its line missed it, the next one.
func (j *journal) wait(ticket uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.durable < ticket {
		if j.flushing {
			j.cond.Wait()
			continue
		}
		if err := j.flushLocked(); err != nil {
			return err
		}
	}
	return nil
}

// flush writes whatever is queued (lastSeen refreshes that nobody waits for).
func (j *journal) flush() error { return j.wait(j.lastQueued()) }

func (j *journal) lastQueued() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.queued
}

// flushLocked writes the pending lines with j.mu released while the disk works; j.mu is held on entry and exit.
func (j *journal) flushLocked() error {
	buf, upto := j.pending, j.queued
	j.pending, j.flushing = nil, true
	j.mu.Unlock()
	_, err := j.f.Write(buf)
	if err == nil {
		err = j.f.Sync()
	}
	j.mu.Lock()
	j.flushing = false
	if err != nil {
		// Keep the lines for the next try: their changes are in memory and must reach the disk.
		j.pending = append(buf, j.pending...)
		err = fmt.Errorf("append to registry log in %s: %w", j.dir, err)
	} else {
		j.size += int64(len(buf))
		j.durable = upto
	}
	j.cond.Broadcast()
	return err
}

// compact writes a snapshot and empties the log. It holds the writer's role first, so nothing reaches the log
// meanwhile, then calls capture (which must lock what orders the changes): lines queued before the capture
// are in the snapshot, and every queued line still pending is written to the emptied log afterwards. A line
// older than the snapshot only replays a state that the snapshot or a later line supersedes, so a crash
// between the rename and the truncation is safe too.
func (j *journal) compact(capture func() stateFile) error {
	j.mu.Lock()
	for j.flushing {
		j.cond.Wait()
	}
	j.flushing = true
	j.mu.Unlock()
	err := writeState(j.dir, capture())
	if err == nil {
		if err = j.f.Truncate(0); err == nil {
			err = j.f.Sync()
		}
	}
	j.mu.Lock()
	j.flushing = false
	if err == nil {
		j.size = 0
	}
	j.cond.Broadcast()
	j.mu.Unlock()
	return err
}

// logSize is how many bytes the log holds.
func (j *journal) logSize() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.size
}

func (j *journal) close() error { return j.f.Close() }

// writeState replaces the snapshot atomically: write a temp file in the same directory, fsync it, rename
// it over the old one and fsync the directory, so that a crash leaves either the old or the new state.
func writeState(dir string, st stateFile) error {
	st.Version = stateVersion
	slices.SortFunc(st.Nodes, func(a, b record) int { return strings.Compare(a.NodeID, b.NodeID) })
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode registry state: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, StateFileName), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write registry state: %w", err)
	}
	return nil
}
