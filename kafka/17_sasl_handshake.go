package kafka

// SaslHandshake: v0-1
//
// Behaviour:
//   - On a connection that need not authenticate (SASL disabled):
//     ILLEGAL_SASL_STATE, as Kafka answers on a PLAINTEXT listener.
//   - A mechanism not enabled: UNSUPPORTED_SASL_MECHANISM with the enabled
//     ones, then the connection is closed (Kafka).
//   - A second handshake before the exchange ended, or a v0 handshake or
//     another mechanism to re-authenticate: ILLEGAL_SASL_STATE and close.
//   - Otherwise an exchange starts: SaslAuthenticate requests carry its
//     tokens (v1), or bare length-prefixed tokens follow (v0, for clients
//     from before KIP-152; see conn.rawSASLStep).
//   - An authenticated connection re-authenticates (KIP-368) with a v1
//     handshake of the same mechanism; it stays authenticated meanwhile.
//
// Version notes:
//   - v1: the exchange goes through SaslAuthenticate (KIP-152)

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(17, 0, 1, handleSaslHandshake) }

func handleSaslHandshake(s *Server, _ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.Version = r.version
	c := r.conn
	if c == nil || !c.mustAuthenticate() {
		resp.ErrorCode = codeIllegalSASLState
		return resp, nil
	}
	resp.SupportedMechanisms = s.cfg.SASL.Mechanisms
	code, closeAfter := c.saslStart(req.Mechanism, r.version)
	resp.ErrorCode = code
	if closeAfter {
		c.log.Debug("closing connection after a refused SASL handshake", "mechanism", req.Mechanism, "error_code", code)
		c.stopReading()
	}
	return resp, nil
}
