package upgrade

import (
	"fmt"
	"strconv"
	"strings"
)

// TigerBeetle's upgrade rules (docs/operating/upgrading.md in its repository): data files move forward only;
// each release states the oldest release it upgrades a replica from and the oldest client it serves, and a
// client may not be newer than the cluster. Its release notes give both versions under "Supported upgrade
// versions".

// Release is a TigerBeetle release, major.minor.patch.
type Release [3]int

// ParseRelease reads "0.17.9".
func ParseRelease(s string) (Release, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Release{}, false
	}
	var r Release
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p != strconv.Itoa(n) {
			return Release{}, false
		}
		r[i] = n
	}
	return r, true
}

func (r Release) String() string { return fmt.Sprintf("%d.%d.%d", r[0], r[1], r[2]) }

// Less reports whether r is older than o.
func (r Release) Less(o Release) bool {
	for i := range r {
		if r[i] != o[i] {
			return r[i] < o[i]
		}
	}
	return false
}

// ReleaseOfImage is the release in a TigerBeetle image reference's tag (ghcr.io/tigerbeetle/tigerbeetle:0.17.9).
func ReleaseOfImage(ref string) (Release, bool) {
	if strings.Contains(ref, "@") {
		return Release{}, false
	}
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return Release{}, false
	}
	return ParseRelease(ref[i+1:])
}

// UpgradableFrom is, for the releases this m2mctl knows, the "Oldest upgradable replica version" of their
// release notes: a replica on an older release cannot be upgraded to them directly.
var UpgradableFrom = map[string]string{
	"0.16.52": "0.16.48",
	"0.17.2":  "0.16.77",
	"0.17.3":  "0.16.78",
	"0.17.8":  "0.17.4",
	"0.17.9":  "0.17.5",
}

// ReleaseStepError: TigerBeetle does not support moving a replica from From to To; Reason says why and what
// to do instead.
type ReleaseStepError struct {
	From, To string // image references
	Reason   string
	// Unknown is true when the target's oldest upgradable release is not known (no table entry, none given).
	Unknown bool
}

func (e *ReleaseStepError) Error() string {
	return fmt.Sprintf("TigerBeetle cannot move from %s to %s: %s", e.From, e.To, e.Reason)
}

// CheckLedgerStep checks that a TigerBeetle replica may move from image from to image to. oldest is the
// target's oldest upgradable release when the caller knows it from the release notes ("" looks it up in
// UpgradableFrom). The same reference, or two references of the same release, is always allowed.
func CheckLedgerStep(from, to, oldest string) error {
	if from == to {
		return nil
	}
	fr, ok1 := ReleaseOfImage(from)
	tr, ok2 := ReleaseOfImage(to)
	switch {
	case !ok1:
		return &ReleaseStepError{From: from, To: to, Reason: "the release of " + from + " cannot be read from its tag; tag it with its release (MAJOR.MINOR.PATCH)"}
	case !ok2:
		return &ReleaseStepError{From: from, To: to, Reason: "the release of " + to + " cannot be read from its tag; use a TigerBeetle image tagged with its release (MAJOR.MINOR.PATCH)"}
	case fr == tr:
		return nil
	case tr.Less(fr):
		return &ReleaseStepError{From: from, To: to, Reason: fmt.Sprintf("%s is older than %s, and a data file only moves forward "+
			"(a replica cannot go back to an older release); to go back, restore a backup taken with %s", tr, fr, tr)}
	}
	if oldest == "" {
		oldest = UpgradableFrom[tr.String()]
	}
	if oldest == "" {
		return &ReleaseStepError{From: from, To: to, Unknown: true, Reason: fmt.Sprintf("the oldest release that %s upgrades a replica from "+
			"is not known to this m2mctl; read it in the release notes of %s (\"Oldest upgradable replica version\")", tr, tr)}
	}
	or, ok := ParseRelease(oldest)
	if !ok {
		return &ReleaseStepError{From: from, To: to, Unknown: true, Reason: fmt.Sprintf("oldest upgradable release %q is not MAJOR.MINOR.PATCH", oldest)}
	}
	if fr.Less(or) {
		return &ReleaseStepError{From: from, To: to, Reason: fmt.Sprintf("%s upgrades replicas from %s onwards, and this one runs %s; "+
			"upgrade to a release between (one whose oldest upgradable release is %s or older) first, then to %s", tr, or, fr, fr, tr)}
	}
	return nil
}
