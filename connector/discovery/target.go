package discovery

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// ErrInternalTarget is wrapped by every refusal of an endpoint on an internal address. A registry publishes
// endpoints to every node, and every node dials them: an endpoint on loopback, a private network or a cloud
// metadata address would turn each connector into a probe of its own network. Private networks (tests,
// a LAN) are allowed by an explicit opt-in.
var ErrInternalTarget = errors.New("endpoint is on an internal address")

// internalRanges are the networks a published endpoint may not point into, beyond what netip classifies
// (loopback, private, link-local, multicast, unspecified).
var internalRanges = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT shared space
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and the broadcast address
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
}

// Prefixes whose addresses embed an IPv4 address, which decides.
var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// internalIP says why ip is internal, or "" when it is a public address.
func internalIP(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		// Addresses that embed an IPv4 address are judged by it.
		b := ip.As16()
		switch {
		case nat64Prefix.Contains(ip):
			return internalIP(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(ip):
			return internalIP(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	switch {
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "link-local"
	case ip.IsPrivate():
		if ip.Is6() {
			return "unique-local"
		}
		return "private"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	}
	for _, p := range internalRanges {
		if p.Contains(ip) {
			return "reserved (" + p.String() + ")"
		}
	}
	return ""
}

// CheckEndpointHost refuses a host that names an internal target: an IP literal in an internal range,
// "localhost" (and any name under .localhost), or a numeric host that is not a canonical IP literal (such as
// 127.1 or 0x7f.1, which resolvers read as 127.0.0.1). Other names pass: their addresses are checked when
// they are dialled (DialControl), which is the only check DNS rebinding cannot get around.
func CheckEndpointHost(host string) error {
	h := strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return fmt.Errorf("%w: host %s is loopback", ErrInternalTarget, quoteShort(host))
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		if why := internalIP(ip); why != "" {
			return fmt.Errorf("%w: host %s is %s", ErrInternalTarget, quoteShort(host), why)
		}
		return nil
	}
	if looksNumeric(h) {
		return fmt.Errorf("%w: host %s is a numeric address in a non-canonical form; give a name or a dotted-quad IP", ErrInternalTarget, quoteShort(host))
	}
	return nil
}

// looksNumeric reports a host whose last label is a number (decimal, octal or hex), which no DNS name has
// and which resolvers may read as an IPv4 address.
func looksNumeric(h string) bool {
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last == "" {
		return false
	}
	if strings.HasPrefix(last, "0x") {
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return true
}

// DialControl is a net.Dialer Control func that refuses to connect to an internal address. It runs on the
// address actually being dialled, after name resolution, so a name that resolves (or is re-bound) to
// 127.0.0.1 or 169.254.169.254 is refused as the literal would be.
func DialControl(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot read dialled address %s", ErrInternalTarget, quoteShort(address))
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: dialled address %s is not an IP", ErrInternalTarget, quoteShort(address))
	}
	if why := internalIP(ip); why != "" {
		return fmt.Errorf("%w: %s resolves to %s, which is %s (set the private-network opt-in to allow it)", ErrInternalTarget, network, ip, why)
	}
	return nil
}
