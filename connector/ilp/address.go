package ilp

import (
	"fmt"
	"strings"
)

// MaxAddressLength is the longest ILP address RFC 0015 allows.
const MaxAddressLength = 1023

// ValidAddress reports whether s is an ILP address per RFC 0015: a scheme (g, private, example, peer, self,
// test, test1, test2, test3, local) followed by one or more dot-separated segments of [a-zA-Z0-9_~-].
func ValidAddress(s string) error {
	if s == "" {
		return fmt.Errorf("ILP address is empty; use e.g. g.example.alice")
	}
	if len(s) > MaxAddressLength {
		return fmt.Errorf("ILP address %.40q... is %d bytes, at most %d allowed", s, len(s), MaxAddressLength)
	}
	scheme, rest, ok := strings.Cut(s, ".")
	if !validScheme(scheme) {
		return fmt.Errorf("ILP address %q has scheme %q; use one of g, private, example, peer, self, test, test1, test2, test3, local", s, scheme)
	}
	if !ok || rest == "" {
		return fmt.Errorf("ILP address %q needs at least one segment after the scheme, e.g. %s.alice", s, scheme)
	}
	segStart := 0
	for i := 0; i <= len(rest); i++ {
		if i == len(rest) || rest[i] == '.' {
			if i == segStart {
				return fmt.Errorf("ILP address %q has an empty segment (two dots or a trailing dot); remove it", s)
			}
			segStart = i + 1
			continue
		}
		if !segmentChar(rest[i]) {
			return fmt.Errorf("ILP address %q contains %q; segments may use only letters, digits, _, ~ and -", s, rest[i])
		}
	}
	return nil
}

// ValidPrefix is ValidAddress for a routing prefix, which may also be a bare scheme such as "g".
func ValidPrefix(s string) error {
	if validScheme(s) {
		return nil
	}
	return ValidAddress(s)
}

func validScheme(s string) bool {
	switch s {
	case "g", "private", "example", "peer", "self", "test", "test1", "test2", "test3", "local":
		return true
	}
	return false
}

func segmentChar(c byte) bool { return segmentChars[c] }

// segmentChars marks [a-zA-Z0-9_~-]: every packet's destination is checked a byte at a time.
var segmentChars = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '~' || c == '-'
	}
	return t
}()
