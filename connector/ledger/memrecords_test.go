package ledger

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestMemRecordsFindsEveryStoredIDAndNoOther: ids in increasing order with gaps, and some below the greatest
// (a caller's own ids), are each found at the record they were stored with; the ids in the gaps are not.
func TestMemRecordsFindsEveryStoredIDAndNoOther(t *testing.T) {
	id := func(n uint64) TransferID {
		var b TransferID
		binary.LittleEndian.PutUint64(b[:8], n<<2)
		binary.LittleEndian.PutUint64(b[8:], n>>40)
		return b
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var r memRecords
	stored := map[TransferID]uint64{}
	n := uint64(10)
	for k := range 5000 {
		v := n
		if k%50 == 49 { // below the greatest, odd: never one of the increasing ids, which are even
			v = rng.Uint64N(n) | 1
			if _, dup := stored[id(v)]; dup {
				continue
			}
		} else {
			n += 2 * (1 + rng.Uint64N(3))
			v = n
		}
		i := r.add(memRecord{id: id(v), amount: v})
		stored[id(v)] = v
		if got := r.at(i).amount; got != v {
			t.Fatalf("add returned index of amount %d, want %d", got, v)
		}
	}
	for key, v := range stored {
		i, ok := r.find(key)
		if !ok || r.at(i).amount != v {
			t.Fatalf("find(id %d) = %d, %v; want the record of amount %d", v, i, ok, v)
		}
	}
	for v := range n + 10 {
		if _, want := stored[id(v)]; want {
			continue
		}
		if i, ok := r.find(id(v)); ok {
			t.Fatalf("find(id %d) found record %d (amount %d); it was never stored", v, i, r.at(i).amount)
		}
	}
	if len(r.others) == 0 || len(r.ordered) < 4000 {
		t.Fatalf("%d ordered and %d other records; the test wants both kinds", len(r.ordered), len(r.others))
	}
}
