package ilp

import (
	"fmt"
	"time"
)

// timestampLen is the size of an ILP timestamp: ASCII YYYYMMDDHHmmSSfff in UTC (RFC 0027), not GeneralizedTime.
const timestampLen = 17

// parseTimestamp reads the 17 ASCII digits strictly: every field in range, no leap seconds, so that
// formatting the result gives back the same bytes.
func parseTimestamp(p []byte) (time.Time, error) {
	if len(p) != timestampLen {
		return time.Time{}, fmt.Errorf("timestamp is %d bytes, want %d", len(p), timestampLen)
	}
	var v [7]int
	widths := [7]int{4, 2, 2, 2, 2, 2, 3}
	off := 0
	for i, w := range widths {
		n := 0
		for _, c := range p[off : off+w] {
			if c < '0' || c > '9' {
				return time.Time{}, fmt.Errorf("timestamp %q has a non-digit, want YYYYMMDDHHmmSSfff", p)
			}
			n = n*10 + int(c-'0')
		}
		v[i] = n
		off += w
	}
	year, month, day, hour, minute, sec, milli := v[0], v[1], v[2], v[3], v[4], v[5], v[6]
	if month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, fmt.Errorf("timestamp %q is not a valid UTC time", p)
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, milli*int(time.Millisecond), time.UTC)
	if t.Day() != day { // 20170231 normalises to March
		return time.Time{}, fmt.Errorf("timestamp %q names a day that does not exist", p)
	}
	return t, nil
}

// appendTimestamp writes t (in UTC, truncated to the millisecond) as 17 ASCII digits.
func appendTimestamp(b []byte, t time.Time) ([]byte, error) {
	t = t.UTC()
	year := t.Year()
	if year < 0 || year > 9999 {
		return b, fmt.Errorf("time %s is outside years 0000-9999 and cannot be an ILP timestamp", t)
	}
	b = appendDigits(b, year, 4)
	b = appendDigits(b, int(t.Month()), 2)
	b = appendDigits(b, t.Day(), 2)
	b = appendDigits(b, t.Hour(), 2)
	b = appendDigits(b, t.Minute(), 2)
	b = appendDigits(b, t.Second(), 2)
	return appendDigits(b, t.Nanosecond()/int(time.Millisecond), 3), nil
}

func appendDigits(b []byte, v, width int) []byte {
	var buf [4]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, buf[:width]...)
}
