package ilp

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestTimestampsReadAsTimeDateWouldAndBack: random instants in years 0000-9999 are written as 17 digits and
// read back as the same instant (to the millisecond) that time.Date makes of those digits.
func TestTimestampsReadAsTimeDateWouldAndBack(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lo, hi := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()
	for range 20000 {
		want := time.UnixMilli(lo + rng.Int64N(hi-lo+1)).UTC()
		b, err := appendTimestamp(nil, want)
		if err != nil {
			t.Fatal(err)
		}
		var y, mo, d, h, mi, s, ms int
		if _, err := fmt.Sscanf(string(b), "%4d%2d%2d%2d%2d%2d%3d", &y, &mo, &d, &h, &mi, &s, &ms); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if date := time.Date(y, time.Month(mo), d, h, mi, s, ms*1e6, time.UTC); !date.Equal(want) {
			t.Fatalf("%s written for %s, which time.Date reads as %s", b, want, date)
		}
		got, err := parseTimestamp(b)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("parseTimestamp(%s) = %s, %v; want %s", b, got, err, want)
		}
	}
}

func TestTimestampRefusesDaysThatDoNotExist(t *testing.T) {
	for ts, ok := range map[string]bool{
		"20000229000000000": true, "20240229235959999": true, "19000229000000000": false, "20230229000000000": false,
		"20170231000000000": false, "20170430000000000": true, "20170431000000000": false, "00000229000000000": true,
		"99991231235959999": true, "20171301000000000": false, "20170100000000000": false,
	} {
		_, err := parseTimestamp([]byte(ts))
		if (err == nil) != ok {
			t.Errorf("parseTimestamp(%s): err %v, want ok=%v", ts, err, ok)
		}
	}
}
