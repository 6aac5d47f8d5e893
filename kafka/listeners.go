package kafka

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
)

// SecurityProtocol is a listener's security protocol, as Kafka's
// security.protocol and listener.security.protocol.map name them.
type SecurityProtocol string

// Security protocols.
const (
	// ProtocolPlaintext: no TLS, no authentication.
	ProtocolPlaintext SecurityProtocol = "PLAINTEXT"
	// ProtocolSSL: TLS; a verified client certificate (mTLS) names the
	// connection's principal.
	ProtocolSSL SecurityProtocol = "SSL"
	// ProtocolSASLPlaintext: SASL authentication without TLS.
	ProtocolSASLPlaintext SecurityProtocol = "SASL_PLAINTEXT"
	// ProtocolSASLSSL: SASL authentication over TLS.
	ProtocolSASLSSL SecurityProtocol = "SASL_SSL"
)

// AnonymousPrincipal is the principal of a connection that has not
// authenticated, as Kafka's KafkaPrincipal.ANONYMOUS.
const AnonymousPrincipal = "User:ANONYMOUS"

// Valid reports whether p is one of the four protocols.
func (p SecurityProtocol) Valid() bool {
	switch p {
	case ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL:
		return true
	}
	return false
}

// TLS reports whether p runs over TLS.
func (p SecurityProtocol) TLS() bool { return p == ProtocolSSL || p == ProtocolSASLSSL }

// SASL reports whether connections of the protocol authenticate with SASL.
func (p SecurityProtocol) SASL() bool { return p == ProtocolSASLPlaintext || p == ProtocolSASLSSL }

// Listener describes one listener a Server serves (ServeListener): its name,
// security protocol and TLS configuration.
type Listener struct {
	// Name is the listener name, as in Kafka's listeners
	// (NAME://host:port): Metadata, FindCoordinator and DescribeCluster on a
	// connection of this listener answer with every broker's address
	// registered under this name (engine.Config.KafkaListeners). Default
	// string(Protocol).
	Name string
	// Protocol is the security protocol; default ProtocolPlaintext.
	Protocol SecurityProtocol
	// TLS is the server TLS configuration of an SSL or SASL_SSL listener
	// (required for them, ignored for the others). With client
	// certificates verified (ClientAuth VerifyClientCertIfGiven or
	// RequireAndVerifyClientCert), an SSL connection with a certificate has
	// the principal "User:" + the certificate subject's RFC 2253 name.
	TLS *tls.Config
}

// withDefaults fills in Name and Protocol.
func (l Listener) withDefaults() Listener {
	if l.Protocol == "" {
		l.Protocol = ProtocolPlaintext
	}
	if l.Name == "" {
		l.Name = string(l.Protocol)
	}
	return l
}

// Validate reports an unknown protocol or a TLS protocol without a TLS
// configuration.
func (l Listener) Validate() error {
	l = l.withDefaults()
	if !l.Protocol.Valid() {
		return fmt.Errorf("kafka: listener %s: unknown security protocol %q", l.Name, l.Protocol)
	}
	if l.Protocol.TLS() && l.TLS == nil {
		return fmt.Errorf("kafka: listener %s: protocol %s needs a TLS configuration", l.Name, l.Protocol)
	}
	return nil
}

// ParseListener parses a listener as Kafka's listeners setting spells it,
// "PROTOCOL://host:port" with PROTOCOL one of PLAINTEXT, SSL,
// SASL_PLAINTEXT and SASL_SSL (case-insensitive; the listener is named
// after it), or a bare "host:port", which is PLAINTEXT. An empty host
// ("SSL://:9093") binds every interface.
func ParseListener(s string) (l Listener, addr string, err error) {
	name, addr, ok := strings.Cut(s, "://")
	if !ok {
		name, addr = string(ProtocolPlaintext), s
	}
	l = Listener{Name: strings.ToUpper(name), Protocol: SecurityProtocol(strings.ToUpper(name))}
	if !l.Protocol.Valid() {
		return Listener{}, "", fmt.Errorf("kafka: listener %q: unknown protocol %q: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", s, name)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return Listener{}, "", fmt.Errorf("kafka: listener %q: %w", s, err)
	}
	return l, addr, nil
}
