package kafka

// SaslAuthenticate: v0-2
//
// Behaviour:
//   - Carries one token of the exchange a SaslHandshake v1 started; the
//     response carries the server's token.
//   - No exchange in progress (no handshake first, or after a v0
//     handshake), or SASL disabled: ILLEGAL_SASL_STATE; on a connection
//     that must authenticate it is then closed (Kafka).
//   - A wrong password, an unknown user or a malformed token:
//     SASL_AUTHENTICATION_FAILED with the same message in every case
//     (authFailedMessage), counted and logged; the connection is closed
//     once the response is written.
//
// Version notes:
//   - v1: SessionLifetimeMillis (KIP-368): SASLConfig.SessionLifetime, 0
//     for none
//   - v2: flexible versions

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(36, 0, 2, handleSaslAuthenticate) }

func handleSaslAuthenticate(s *Server, _ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	resp.Version = r.version
	c := r.conn
	if c == nil || !c.mustAuthenticate() {
		resp.ErrorCode = codeIllegalSASLState
		resp.ErrorMessage = kmsg.StringPtr("SaslAuthenticate request received after successful authentication")
		return resp, nil
	}
	if c.sasl.exchange == nil || c.sasl.raw {
		resp.ErrorCode = codeIllegalSASLState
		resp.ErrorMessage = kmsg.StringPtr("Unexpected SaslAuthenticate request: no SaslHandshake v1 started an exchange")
		c.stopReading()
		return resp, nil
	}
	mech := c.sasl.exchangeMech
	out, done, err := c.saslStep(req.SASLAuthBytes)
	if errors.Is(err, errAuthFailed) {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr(authFailedMessage(mech))
		c.stopReading()
		return resp, nil
	}
	resp.SASLAuthBytes = out
	if done && r.version >= 1 {
		resp.SessionLifetimeMillis = s.cfg.SASL.SessionLifetime.Milliseconds()
	}
	return resp, nil
}
