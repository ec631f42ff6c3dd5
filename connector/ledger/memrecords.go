package ledger

// memRecord is a transfer as Memory keeps it: its accounts by index, and its timeout in whole seconds. It holds
// no pointer, so that the garbage collector does not walk the records, which grow by one a packet.
type memRecord struct {
	id             TransferID
	amount         uint64
	debit, credit  uint32
	timeoutSeconds uint32
	state          transferState
}

// memRecords holds every transfer ever prepared or refused, for idempotent retries, found by id. Ids from
// NewTransferID increase, so their records are appended in order and found by a search from the end, where the
// transfers still in flight are: a hash map of every id would cost each packet an insert at a random place in
// a table that only grows (a cache miss or more; a tenth of the benchmark's CPU). An id that is not above all
// before it, such as a caller's own, goes to a map of its own.
type memRecords struct {
	ordered []memRecord // strictly increasing ids
	others  []memRecord
	byID    map[TransferID]uint32 // index in others
}

// otherBit marks an index into others rather than ordered.
const otherBit = 1 << 31

// at returns the record with index i, as add and find return them.
func (r *memRecords) at(i uint32) *memRecord {
	if i&otherBit != 0 {
		return &r.others[i&^otherBit]
	}
	return &r.ordered[i]
}

// add stores rec and returns its index; rec.id must not be stored yet.
func (r *memRecords) add(rec memRecord) uint32 {
	if n := len(r.ordered); n == 0 || idAfter(rec.id, r.ordered[n-1].id) {
		r.ordered = append(r.ordered, rec)
		return uint32(n)
	}
	if r.byID == nil {
		r.byID = map[TransferID]uint32{}
	}
	i := uint32(len(r.others))
	r.others = append(r.others, rec)
	r.byID[rec.id] = i
	return i | otherBit
}

// find returns the index of id's record.
func (r *memRecords) find(id TransferID) (uint32, bool) {
	if i, ok := r.byID[id]; ok {
		return i | otherBit, true
	}
	n := len(r.ordered)
	if n == 0 || idAfter(id, r.ordered[n-1].id) {
		return 0, false
	}
	// Gallop back from the end to a record whose id is not above id, then search between it and the last
	// one that was: lo's id ≤ id < hi's (hi = n stands for "above all").
	hi, step := n, 1
	lo := n - 1
	for lo > 0 && idAfter(r.ordered[lo].id, id) {
		hi = lo
		lo = max(0, lo-step)
		step *= 2
	}
	for hi-lo > 1 {
		mid := int(uint(lo+hi) >> 1)
		if idAfter(r.ordered[mid].id, id) {
			hi = mid
		} else {
			lo = mid
		}
	}
	if r.ordered[lo].id == id {
		return uint32(lo), true
	}
	return 0, false
}
