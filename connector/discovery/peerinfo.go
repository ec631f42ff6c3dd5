// Package discovery is the peer registry (`m2m-connector discovery`) and the client in the connector that
// announces itself there, learns the other nodes and hands them to the node to connect.
package discovery

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/m2mnet/m2m/connector/ilp"
)

// PeerInfo is one node as the registry protocol carries it; the JSON field names are the protocol's.
type PeerInfo struct {
	NodeID       string   `json:"nodeId"`
	BTPEndpoint  string   `json:"btpEndpoint"`
	ILPAddress   string   `json:"ilpAddress"`
	Capabilities []string `json:"capabilities"`
	// LastSeen is set by the registry: Unix milliseconds of the node's last announcement.
	LastSeen int64  `json:"lastSeen,omitempty"`
	Version  string `json:"version"`
	// PublicKey (standard base64 ed25519) is added by the registry to GET answers: the key the node id is
	// bound to. In an announcement the key travels in the X-M2M-Public-Key header instead.
	PublicKey string `json:"publicKey,omitempty"`
}

// HTTP headers that carry a node's identity. The signature is over identity.SignedMessage: purpose
// (identity.PurposeAnnounce or PurposeDelete), the registry's origin, the timestamp and the body (for a
// DELETE, the node id).
const (
	HeaderPublicKey = "X-M2M-Public-Key" // announce: the signer's key, standard base64
	HeaderSignature = "X-M2M-Signature"  // announce and DELETE: ed25519, standard base64
	HeaderTimestamp = "X-M2M-Timestamp"  // announce and DELETE: Unix milliseconds, part of what is signed
)

// DefaultNetworkPrefix is the ILP prefix under which a registry's nodes have their addresses.
const DefaultNetworkPrefix = "g.m2m"

// ErrAddressNotOwned is wrapped when an entry's ilpAddress is not <network prefix>.<nodeId>: a node routes
// exactly its own address, never a parent's prefix, a neighbour's address or anything under them.
var ErrAddressNotOwned = errors.New("ilpAddress is not the node's own address")

// OwnAddress is the one ILP address node nodeID may announce in a network with the given prefix.
func OwnAddress(networkPrefix, nodeID string) string { return networkPrefix + "." + nodeID }

// KnownCapabilities are the capability names an announcement may carry.
var KnownCapabilities = []string{"evm-settlement", "xrp-settlement", "aptos-settlement"}

const (
	maxNodeIDLen       = 64
	maxEndpointLen     = 512
	maxVersionLen      = 64
	maxCapabilities    = 16
	maxILPAddressBytes = 1023
)

// FieldError says which field of an announcement is wrong and why.
type FieldError struct {
	Field  string
	Reason string // names the offending value
	Err    error  // a sentinel such as ErrAddressNotOwned or ErrInternalTarget, or nil
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, value, reason string) *FieldError {
	return &FieldError{Field: field, Reason: quoteShort(value) + " " + reason}
}

// Validate checks an announcement's fields; LastSeen and PublicKey are ignored.
func (p PeerInfo) Validate() error {
	if err := ValidNodeID(p.NodeID); err != nil {
		return err
	}
	if err := validBTPEndpoint(p.BTPEndpoint); err != nil {
		return err
	}
	if err := ilp.ValidAddress(p.ILPAddress); err != nil {
		return &FieldError{Field: "ilpAddress", Reason: err.Error()}
	}
	if len(p.Capabilities) > maxCapabilities {
		return fieldErr("capabilities", strings.Join(p.Capabilities, ","), fmt.Sprintf("has more than %d entries", maxCapabilities))
	}
	for i, c := range p.Capabilities {
		if !slices.Contains(KnownCapabilities, c) {
			return fieldErr("capabilities", c, "is unknown; known: "+strings.Join(KnownCapabilities, ", "))
		}
		if slices.Contains(p.Capabilities[:i], c) {
			return fieldErr("capabilities", c, "is listed twice")
		}
	}
	if len(p.Version) > maxVersionLen || !printable(p.Version) {
		return fieldErr("version", p.Version, fmt.Sprintf("must be at most %d printable ASCII characters", maxVersionLen))
	}
	return nil
}

// CheckOwnership refuses an entry whose ilpAddress is not OwnAddress(networkPrefix, nodeId).
func (p PeerInfo) CheckOwnership(networkPrefix string) error {
	if want := OwnAddress(networkPrefix, p.NodeID); p.ILPAddress != want {
		return &FieldError{Field: "ilpAddress", Err: ErrAddressNotOwned,
			Reason: fmt.Sprintf("%s is not this node's own address: in network %s node %s announces exactly %s", quoteShort(p.ILPAddress), networkPrefix, p.NodeID, want)}
	}
	return nil
}

// CheckTarget refuses an entry whose btpEndpoint host is internal (see CheckEndpointHost).
func (p PeerInfo) CheckTarget() error {
	u, err := url.Parse(p.BTPEndpoint)
	if err != nil {
		return fieldErr("btpEndpoint", p.BTPEndpoint, "is not a URL")
	}
	if err := CheckEndpointHost(u.Hostname()); err != nil {
		return &FieldError{Field: "btpEndpoint", Err: ErrInternalTarget,
			Reason: strings.TrimPrefix(err.Error(), ErrInternalTarget.Error()+": ") + "; publish a public name or address (private networks need the registry's opt-in)"}
	}
	return nil
}

// ValidNodeID checks a node id: 1 to 64 characters from A-Z a-z 0-9 _ ~ -, starting with a letter or digit.
// It is the routing table's peer id charset (the id becomes an ILP address segment), and none of these
// characters needs escaping in a URL path, so DELETE /api/v1/peers/<nodeId> is unambiguous.
func ValidNodeID(id string) error {
	const rule = "must be 1 to 64 characters from A-Z a-z 0-9 _ ~ - and start with a letter or digit, e.g. alice-eu-1"
	if id == "" || len(id) > maxNodeIDLen || !isAlnum(id[0]) {
		return fieldErr("nodeId", id, rule)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !isAlnum(c) && c != '_' && c != '~' && c != '-' {
			return fieldErr("nodeId", id, rule)
		}
	}
	return nil
}

func validBTPEndpoint(s string) error {
	const example = "e.g. wss://node.example.com:4000"
	if s == "" {
		return fieldErr("btpEndpoint", s, "is required: the ws:// or wss:// URL peers connect to, "+example)
	}
	if len(s) > maxEndpointLen {
		return fieldErr("btpEndpoint", s, fmt.Sprintf("is longer than %d characters", maxEndpointLen))
	}
	u, err := url.Parse(s)
	if err != nil {
		return fieldErr("btpEndpoint", s, "is not a URL, "+example)
	}
	switch {
	case u.Scheme != "ws" && u.Scheme != "wss":
		return fieldErr("btpEndpoint", s, "must be a ws:// or wss:// URL, "+example)
	case u.Host == "" || u.Hostname() == "":
		return fieldErr("btpEndpoint", s, "has no host, "+example)
	case u.User != nil:
		// The registry publishes endpoints to everyone: a password here would be published too.
		return fieldErr("btpEndpoint", redactedURL(u), "must not carry user:password; BTP peers authenticate with signed tokens")
	case u.Fragment != "":
		return fieldErr("btpEndpoint", s, "must not have a #fragment")
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func redactedURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User("xxxxx")
	}
	return c.String()
}

// quoteShort quotes a value for a message, cut short so that hostile input cannot flood logs and answers.
func quoteShort(s string) string {
	const max = 80
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
