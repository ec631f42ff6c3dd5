// Package routing knows the connector's peers and picks the next hop for an ILP address by longest prefix.
package routing

import (
	"fmt"
	"net/url"
	"regexp"
	"syscall"

	"github.com/m2mnet/m2m/connector/identity"
	"github.com/m2mnet/m2m/connector/ilp"
)

// Relation is what a peer is to this connector (RFC 0031/0010 vocabulary).
type Relation string

// The three relations.
const (
	RelationParent Relation = "parent" // upstream: the default route, and the side that gives us our address
	RelationPeer   Relation = "peer"   // same level: routes for its prefix only
	RelationChild  Relation = "child"  // downstream: gets its address from us through ILDCP
)

// Peer is one peer of the connector.
type Peer struct {
	ID              string   `yaml:"id"`
	BTPURL          string   `yaml:"btpUrl"`
	AuthToken       string   `yaml:"authToken"` // secret: never logged; String() leaves it out
	ILPPrefix       string   `yaml:"ilpPrefix"`
	Relation        Relation `yaml:"relation"`
	MaxPacketAmount uint64   `yaml:"maxPacketAmount"` // 0 = no limit
	CreditLimit     uint64   `yaml:"creditLimit"`
	// PublicKey is the peer's ed25519 node key (standard base64). With it the peer may authenticate with
	// a signed identity token instead of authToken, and authToken may be left empty.
	PublicKey string `yaml:"publicKey"`
	// DialToken, when set, makes the token sent for every dial to this peer instead of AuthToken, so that a
	// reconnect presents a fresh signed token (discovered peers, and static peers given by publicKey only).
	DialToken func() string `yaml:"-"`
	// DialControl, when set, vets every address dialled for this peer after name resolution (net.Dialer's
	// Control): discovered peers refuse internal addresses with it, which DNS rebinding cannot get around.
	DialControl func(network, address string, c syscall.RawConn) error `yaml:"-"`
}

// String describes the peer without its token.
func (p Peer) String() string {
	return fmt.Sprintf("%s (%s, prefix %q)", p.ID, p.Relation, p.ILPPrefix)
}

var peerIDPattern = regexp.MustCompile(`^[a-zA-Z0-9_~-]{1,64}$`)

// Validate checks one peer; the errors name the field and say what to put there.
func (p Peer) Validate() error {
	if !peerIDPattern.MatchString(p.ID) {
		return fmt.Errorf("id %q: use 1-64 letters, digits, _, ~ or - (it becomes an ILP address segment)", p.ID)
	}
	switch p.Relation {
	case RelationParent, RelationPeer, RelationChild:
	default:
		return fmt.Errorf("peer %s: relation %q: use parent, peer or child", p.ID, p.Relation)
	}
	if p.ILPPrefix != "" {
		if err := ilp.ValidPrefix(p.ILPPrefix); err != nil {
			return fmt.Errorf("peer %s: ilpPrefix: %w", p.ID, err)
		}
	} else if p.Relation == RelationPeer {
		return fmt.Errorf("peer %s: ilpPrefix is required for relation peer (e.g. g.%s)", p.ID, p.ID)
	}
	if p.BTPURL != "" {
		u, err := url.Parse(p.BTPURL)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return fmt.Errorf("peer %s: btpUrl %q: use ws://host:port/ or wss://host:port/", p.ID, p.BTPURL)
		}
		if u.User != nil {
			return fmt.Errorf("peer %s: btpUrl must not carry credentials; put the token in authToken", p.ID)
		}
	}
	if p.PublicKey != "" {
		if _, err := identity.ParsePublicKey(p.PublicKey); err != nil {
			return fmt.Errorf("peer %s: publicKey: %w", p.ID, err)
		}
	}
	if p.AuthToken == "" && p.PublicKey == "" {
		return fmt.Errorf("peer %s: authToken is empty; set a long random token shared with the peer, or the peer's publicKey", p.ID)
	}
	return nil
}
