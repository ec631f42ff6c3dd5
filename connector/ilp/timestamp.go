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
	if day > daysIn(month, year) { // 20170231 would be March
		return time.Time{}, fmt.Errorf("timestamp %q names a day that does not exist", p)
	}
	secs := ((daysFromCivil(year, month, day)*24+int64(hour))*60+int64(minute))*60 + int64(sec)
	return time.Unix(secs, int64(milli)*int64(time.Millisecond)).UTC(), nil
}

// daysIn is the number of days of month in year, in the proleptic Gregorian calendar that time.Date uses.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is the number of days from 1970-01-01 to the date (year ≥ 0): Howard Hinnant's days_from_civil.
// It replaces time.Date, which normalises and looks up the location, on the path of every packet.
func daysFromCivil(year, month, day int) int64 {
	if month <= 2 {
		year--
	}
	era := (year + 400) / 400 // year ≥ −1: shifted so that the division rounds down
	era--
	yoe := year - era*400
	mp := (month + 9) % 12
	doy := (153*mp+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// appendTimestamp writes t (in UTC, truncated to the millisecond) as 17 ASCII digits.
func appendTimestamp(b []byte, t time.Time) ([]byte, error) {
	t = t.UTC()
	year, month, day := t.Date() // once: Year, Month and Day would each work the date out again
	if year < 0 || year > 9999 {
		return b, fmt.Errorf("time %s is outside years 0000-9999 and cannot be an ILP timestamp", t)
	}
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = appendDigits(b, int(month), 2)
	b = appendDigits(b, day, 2)
	b = appendDigits(b, hour, 2)
	b = appendDigits(b, minute, 2)
	b = appendDigits(b, sec, 2)
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
