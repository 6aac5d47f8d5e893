package kafka

// SASL authentication of connections: configuration, the per-connection
// state, the gate that keeps unauthenticated connections to ApiVersions,
// SaslHandshake and SaslAuthenticate, session expiry (KIP-368), and the
// raw token exchange that follows a SaslHandshake v0. The mechanisms are
// in sasl_mechanisms.go, the requests in 17_sasl_handshake.go and
// 36_sasl_authenticate.go.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/chronik-io/chronik/internal/scramcred"
)

// SASL mechanism names.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = scramcred.SHA256
	MechanismScramSHA512 = scramcred.SHA512
)

// DefaultSASLMechanisms are the mechanisms enabled when SASLConfig lists
// none.
var DefaultSASLMechanisms = []string{MechanismPlain, MechanismScramSHA256, MechanismScramSHA512}

// SASLConfig configures SASL authentication. Users are the SCRAM users
// stored in __meta (engine.Engine.AlterScramCredentials); PLAIN checks a
// password against the same credentials.
type SASLConfig struct {
	// Enabled makes every connection authenticate, whatever its
	// listener's protocol, before any request other than ApiVersions,
	// SaslHandshake and SaslAuthenticate; any other request before that
	// closes the connection, as Kafka does. Connections of SASL_PLAINTEXT
	// and SASL_SSL listeners must authenticate either way. Default false.
	Enabled bool
	// Mechanisms are the mechanisms clients may use, of PLAIN,
	// SCRAM-SHA-256 and SCRAM-SHA-512 (sasl.enabled.mechanisms). Default
	// DefaultSASLMechanisms (all three).
	Mechanisms []string
	// SessionLifetime is how long an authentication holds (KIP-368,
	// connections.max.reauth.ms): SaslAuthenticate v1+ tells the client,
	// which re-authenticates on the same connection before it ends; a
	// connection that sends any other request after it ended is closed.
	// 0 (the default) means sessions do not expire.
	SessionLifetime time.Duration
}

// Validate reports every invalid field.
func (c SASLConfig) Validate() error {
	var errs []error
	for _, m := range c.Mechanisms {
		if !slices.Contains(DefaultSASLMechanisms, m) {
			errs = append(errs, fmt.Errorf("kafka: SASL.Mechanisms: %q is not one of %v", m, DefaultSASLMechanisms))
		}
	}
	if c.SessionLifetime < 0 {
		errs = append(errs, fmt.Errorf("kafka: SASL.SessionLifetime (%s) must be >= 0", c.SessionLifetime))
	}
	return errors.Join(errs...)
}

func (c *SASLConfig) setDefaults() {
	if len(c.Mechanisms) == 0 {
		c.Mechanisms = DefaultSASLMechanisms
	}
}

// mustAuthenticate reports whether c has to authenticate with SASL before
// it may send other requests: it came in on a SASL_PLAINTEXT or SASL_SSL
// listener, or SASLConfig.Enabled makes every listener require it.
func (c *conn) mustAuthenticate() bool { return c.protocol.SASL() || c.s.cfg.SASL.Enabled }

// saslState is a connection's authentication. Only the connection's
// reader goroutine touches it: SASL requests are not pipelined, so their
// handlers run there (dispatch), as does the gate (saslGate).
type saslState struct {
	authenticated bool
	user          string // authenticated user
	mechanism     string // of the last successful authentication
	// expiry ends the session (SASLConfig.SessionLifetime); zero = never.
	expiry time.Time

	// exchange is the authentication in progress after a SaslHandshake,
	// nil when there is none.
	exchange     saslExchange
	exchangeMech string
	started      time.Time
	// raw: the handshake was v0, so the exchange's tokens follow as bare
	// length-prefixed frames instead of SaslAuthenticate requests.
	raw bool
}

// errSASL* close a connection that breaks the SASL rules.
var (
	errSASLRequired = errors.New("kafka: request before SASL authentication")
	errSASLExpired  = errors.New("kafka: SASL session expired and was not renewed")
)

// saslGate is checked before a request is handled: on a connection that
// must authenticate, only ApiVersions, SaslHandshake and SaslAuthenticate
// pass before authentication, and after the session expired.
func (c *conn) saslGate(r *request) error {
	if !c.mustAuthenticate() {
		return nil
	}
	switch r.key {
	case 17, 18, 36:
		return nil
	}
	if !c.sasl.authenticated {
		return errSASLRequired
	}
	if !c.sasl.expiry.IsZero() && time.Now().After(c.sasl.expiry) {
		return errSASLExpired
	}
	return nil
}

// saslStart begins an exchange for mechanism. It returns the Kafka error
// of a handshake that is not allowed now (closeAfter: the connection is
// closed once the response is written, as Kafka does).
func (c *conn) saslStart(mechanism string, version int16) (errCode int16, closeAfter bool) {
	switch {
	case c.sasl.exchange != nil:
		return codeIllegalSASLState, true // a second handshake before authenticating
	case c.sasl.authenticated && version == 0:
		return codeIllegalSASLState, true // re-authentication needs v1+ (KIP-368)
	case !slices.Contains(c.s.cfg.SASL.Mechanisms, mechanism):
		return codeUnsupportedSASLMechanism, true
	case c.sasl.authenticated && mechanism != c.sasl.mechanism:
		return codeIllegalSASLState, true // KIP-368: the same mechanism
	}
	ex, err := c.s.newExchange(mechanism)
	if err != nil {
		return codeUnsupportedSASLMechanism, true
	}
	c.sasl.exchange, c.sasl.exchangeMech = ex, mechanism
	c.sasl.started = time.Now()
	c.sasl.raw = version == 0
	return 0, false
}

// saslStep feeds the exchange one client token. On failure the exchange is
// over, the failure counted and logged, and the caller closes the
// connection after answering.
func (c *conn) saslStep(in []byte) (out []byte, done bool, err error) {
	ex, mech := c.sasl.exchange, c.sasl.exchangeMech
	out, done, err = ex.step(in)
	if err == nil && done && c.sasl.authenticated && ex.user() != c.sasl.user {
		err = errors.New("re-authentication as a different user")
	}
	if err != nil {
		c.sasl.exchange = nil
		c.s.saslFailed.Add(1)
		c.s.badLogs.warn(c.log, "SASL authentication failed", "mechanism", mech, "reason", err)
		return nil, false, fmt.Errorf("%s: %w", mech, errAuthFailed)
	}
	if !done {
		return out, false, nil
	}
	c.sasl.exchange = nil
	c.sasl.raw = false
	c.sasl.authenticated, c.sasl.user, c.sasl.mechanism = true, ex.user(), mech
	c.principal = "User:" + ex.user()
	c.sasl.expiry = time.Time{}
	if l := c.s.cfg.SASL.SessionLifetime; l > 0 {
		c.sasl.expiry = c.sasl.started.Add(l)
	}
	c.s.saslOK.Add(1)
	c.log.Debug("SASL authenticated", "principal", c.principal, "mechanism", mech)
	return out, true, nil
}

// authFailedMessage is the one message of a failed authentication: the
// same for a wrong password and an unknown user (Kafka's wording).
func authFailedMessage(mechanism string) string {
	return "Authentication failed during authentication due to invalid credentials with SASL mechanism " + mechanism
}

// maxSASLTokenBytes bounds a raw SASL token (after SaslHandshake v0):
// PLAIN and SCRAM messages are a few hundred bytes.
const maxSASLTokenBytes = 64 << 10

// rawSASLStep reads one bare SASL token (after a SaslHandshake v0) and
// writes the server's token back. The caller has waited until every
// earlier response was written, so the writer goroutine is idle. It
// returns false when the connection is to be closed: a bad frame or a
// failed authentication (Kafka closes without an answer).
func (c *conn) rawSASLStep(br *bufio.Reader) bool {
	var size [4]byte
	if _, err := io.ReadFull(br, size[:]); err != nil {
		c.readFailed(err)
		return false
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 0 || n > maxSASLTokenBytes {
		c.s.badLogs.warn(c.log, "closing connection: bad SASL token frame", "bytes", n)
		return false
	}
	tok := make([]byte, n)
	if _, err := io.ReadFull(br, tok); err != nil {
		c.readFailed(unexpected(err))
		return false
	}
	out, _, err := c.saslStep(tok)
	if err != nil {
		return false
	}
	buf := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(out)), uint32(len(out)))
	buf = append(buf, out...)
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := c.nc.Write(buf); err != nil {
		c.log.Debug("write failed; closing connection", "err", err)
		return false
	}
	return true
}

// SASLAuthentications is how many SASL authentications (re-authentications
// included) succeeded.
func (s *Server) SASLAuthentications() int64 { return s.saslOK.Load() }

// SASLAuthenticationFailures is how many SASL authentications failed
// (wrong password, unknown user, malformed exchange).
func (s *Server) SASLAuthenticationFailures() int64 { return s.saslFailed.Load() }
