package routing

import (
	"crypto/sha256"
	"fmt"

	"github.com/m2mnet/m2m/connector/ilp"

	"github.com/m2mnet/m2m/connector/oer"
)

// Destinations of the peer protocols (RFC 0031 ILDCP, RFC 0010 route broadcast). They are answered by the
// connector that receives them and never forwarded.
const (
	ILDCPDestination = "peer.config"
	RoutePrefix      = "peer.route"
	PeerPrefix       = "peer"
)

// PeerProtocolFulfillment is the fulfillment peer protocols use: 32 zero bytes. PeerProtocolCondition is its hash.
var (
	PeerProtocolFulfillment [32]byte
	PeerProtocolCondition   = sha256.Sum256(PeerProtocolFulfillment[:])
)

// ILDCPInfo is what ILDCP tells a child: its address and the asset of the link.
type ILDCPInfo struct {
	Address    string
	AssetScale uint8
	AssetCode  string
}

// EncodeILDCP encodes the data of an ILDCP response: address (var octets), scale (u8), code (var octets).
func EncodeILDCP(info ILDCPInfo) []byte {
	b := oer.AppendLength(nil, len(info.Address))
	b = append(b, info.Address...)
	b = append(b, info.AssetScale)
	b = oer.AppendLength(b, len(info.AssetCode))
	return append(b, info.AssetCode...)
}

// DecodeILDCP decodes the data of an ILDCP response.
func DecodeILDCP(data []byte) (ILDCPInfo, error) {
	var info ILDCPInfo
	n, used, err := oer.ReadLength(data)
	if err != nil || used+n+1 > len(data) {
		return info, fmt.Errorf("ILDCP response: address is truncated")
	}
	info.Address = string(data[used : used+n])
	rest := data[used+n:]
	info.AssetScale = rest[0]
	n, used, err = oer.ReadLength(rest[1:])
	if err != nil || 1+used+n != len(rest) {
		return info, fmt.Errorf("ILDCP response: asset code is truncated or followed by extra bytes")
	}
	info.AssetCode = string(rest[1+used:])
	if err := ilp.ValidAddress(info.Address); err != nil {
		return info, fmt.Errorf("ILDCP response: %w", err)
	}
	return info, nil
}
