// Package chain checks that the settlement chains' endpoints answer: an EVM JSON-RPC node (eth_chainId,
// eth_blockNumber) and an XRP Ledger server (server_info over WebSocket). The health package runs these checks
// periodically; their results decide readiness when the node settles on that chain.
package chain

import (
	"errors"
	"net/url"
)

// Redact shows an endpoint as scheme://host only. RPC providers put API keys in the path or the query
// (…/v2/<key>), and these endpoints end up in errors, logs and /health.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparseable URL)"
	}
	s := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		s += "/…"
	}
	return s
}

// scrub removes the URL from errors that carry it (net/http's *url.Error quotes the whole URL).
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
