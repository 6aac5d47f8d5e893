package kafka

import (
	"context"
	"crypto/tls"
	"time"
)

// handshakeTimeout bounds a TLS handshake, so a client that connects and
// sends nothing does not hold a connection slot.
const handshakeTimeout = 10 * time.Second

// handshake runs the TLS handshake of an SSL or SASL_SSL connection (on
// the connection's goroutine, not the accept loop) and, on an SSL listener,
// takes the principal from a verified client certificate. It reports false
// (after a rate-limited log line) when the handshake failed; the caller
// closes the connection.
func (c *conn) handshake() bool {
	tc := c.nc.(*tls.Conn)
	ctx, cancel := context.WithTimeout(c.s.ctx, handshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.s.badLogs.warn(c.log, "closing connection: TLS handshake failed", "listener", c.listener, "err", err)
		return false
	}
	st := tc.ConnectionState()
	// Kafka's SSL principal builder: the peer's subject when the client
	// authenticated with a certificate; SASL_SSL principals come from SASL.
	if c.protocol == ProtocolSSL && len(st.VerifiedChains) > 0 && len(st.PeerCertificates) > 0 {
		c.principal = "User:" + distinguishedName(st.PeerCertificates[0])
	}
	c.log.Debug("TLS connection established", "listener", c.listener, "principal", c.principal,
		"version", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite))
	return true
}
