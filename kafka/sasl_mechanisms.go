package kafka

// The SASL mechanisms: PLAIN (RFC 4616), checked against the stored SCRAM
// credentials, and SCRAM-SHA-256/512 (RFC 5802, RFC 7677) through
// github.com/xdg-go/scram's server. An unknown user goes through the same
// steps as a known one, against a fake credential (scramcred.Fake), so
// neither the answers nor the work done tell whether a user exists. The
// PBKDF2 work of PLAIN runs on the connection's own goroutine under no
// lock: a flood of failing logins costs CPU, never other connections'
// progress through a shared lock.

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/xdg-go/scram"

	"github.com/chronik-io/chronik/internal/scramcred"
)

var (
	codeIllegalSASLState         = kerr.IllegalSaslState.Code
	codeUnsupportedSASLMechanism = kerr.UnsupportedSaslMechanism.Code
)

// errAuthFailed: wrong password, unknown user or a malformed exchange,
// answered SASL_AUTHENTICATION_FAILED with authFailedMessage.
var errAuthFailed = errors.New("kafka: SASL authentication failed")

// saslExchange is one authentication in progress.
type saslExchange interface {
	// step takes the client's next token and returns the server's. done
	// means the client authenticated as user(); an error means it failed
	// (the exchange is then over).
	step(in []byte) (out []byte, done bool, err error)
	// user is the authenticated user once step reported done.
	user() string
}

// newExchange starts an exchange of mechanism.
func (s *Server) newExchange(mechanism string) (saslExchange, error) {
	switch mechanism {
	case MechanismPlain:
		return &plainExchange{s: s}, nil
	case MechanismScramSHA256, MechanismScramSHA512:
		gen := scram.SHA256
		if mechanism == MechanismScramSHA512 {
			gen = scram.SHA512
		}
		x := &scramExchange{mech: mechanism}
		srv, err := gen.NewServer(func(user string) (scram.StoredCredentials, error) {
			x.cred = s.credential(mechanism, user)
			return scram.StoredCredentials{
				KeyFactors: scram.KeyFactors{Salt: string(x.cred.Salt), Iters: x.cred.Iterations},
				StoredKey:  x.cred.StoredKey,
				ServerKey:  x.cred.ServerKey,
			}, nil
		})
		if err != nil {
			return nil, fmt.Errorf("kafka: %s server: %w", mechanism, err)
		}
		x.conv = srv.WithNonceGenerator(scramNonce).NewConversation()
		return x, nil
	}
	return nil, fmt.Errorf("kafka: SASL mechanism %q: %w", mechanism, scramcred.ErrUnknownMechanism)
}

// scramNonce is the server's part of a SCRAM nonce: 32 random letters and
// digits, as Kafka's. xdg-go's default (base64, with '+' and '/') trips
// librdkafka, whose client-final then carries a different nonce.
func scramNonce() string {
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

// credential returns user's stored credential for mechanism, or a fake one
// (same salt on every call, matching no password) when there is none.
func (s *Server) credential(mechanism, user string) scramcred.Credential {
	if c, ok := s.be.ScramCredentials(user)[mechanism]; ok {
		return c
	}
	secret := s.be.ScramSecret()
	if len(secret) == 0 {
		secret = s.fakeSecret // no user exists yet: nothing to hide
	}
	return scramcred.Fake(mechanism, user, secret)
}

// plainExchange is SASL PLAIN: one token, authzid NUL authcid NUL passwd.
type plainExchange struct {
	s    *Server
	name string
}

func (p *plainExchange) user() string { return p.name }

func (p *plainExchange) step(in []byte) ([]byte, bool, error) {
	authzid, user, pass, err := parsePlain(in)
	if err != nil {
		return nil, false, err
	}
	if authzid != "" && authzid != user {
		return nil, false, errors.New("PLAIN authorization id differs from the user name")
	}
	// The strongest stored hash decides; an unknown user costs the same
	// PBKDF2 work against a fake credential.
	mech := MechanismScramSHA512
	if _, ok := p.s.be.ScramCredentials(user)[mech]; !ok {
		if _, ok := p.s.be.ScramCredentials(user)[MechanismScramSHA256]; ok {
			mech = MechanismScramSHA256
		}
	}
	if !scramcred.Verify(mech, pass, p.s.credential(mech, user)) {
		return nil, false, errors.New("invalid credentials")
	}
	p.name = user
	return nil, true, nil
}

// maxPlainField bounds each PLAIN field, as Kafka's 255-byte limits on
// user names and passwords in PLAIN are generous for both.
const maxPlainField = 4096

// parsePlain splits a PLAIN token (RFC 4616: [authzid] NUL authcid NUL
// passwd). The user and password must not be empty.
func parsePlain(tok []byte) (authzid, user, pass string, err error) {
	parts := bytes.Split(tok, []byte{0})
	if len(parts) != 3 {
		return "", "", "", fmt.Errorf("malformed PLAIN token: %d fields, want 3", len(parts))
	}
	for _, p := range parts {
		if len(p) > maxPlainField {
			return "", "", "", errors.New("malformed PLAIN token: field too long")
		}
	}
	if len(parts[1]) == 0 || len(parts[2]) == 0 {
		return "", "", "", errors.New("malformed PLAIN token: empty user name or password")
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), nil
}

// scramExchange is SCRAM-SHA-256 or -512: client-first, server-first,
// client-final, server-final.
type scramExchange struct {
	conv *scram.ServerConversation
	mech string
	cred scramcred.Credential // looked up by the first step

	// After the first step: the client-first message, the server-first
	// message and the nonce it carries (for kafkaNonceFinal).
	c1, s1, nonce string
}

func (x *scramExchange) user() string { return x.conv.Username() }

func (x *scramExchange) step(in []byte) ([]byte, bool, error) {
	if x.s1 != "" {
		if r, ok := scramField(string(in), 1, "r="); ok && r != x.nonce && strings.HasSuffix(r, x.nonce) {
			return x.kafkaNonceFinal(string(in))
		}
	}
	out, err := x.conv.Step(string(in))
	if err != nil {
		return nil, false, fmt.Errorf("SCRAM: %w", err)
	}
	if !x.conv.Done() {
		x.c1, x.s1 = string(in), out
		x.nonce, _ = scramField(out, 0, "r=")
		return []byte(out), false, nil
	}
	if !x.conv.Valid() {
		return nil, false, errors.New("SCRAM: exchange ended without a valid proof")
	}
	if z := x.conv.AuthzID(); z != "" && z != x.conv.Username() {
		return nil, false, errors.New("SCRAM authorization id differs from the user name")
	}
	return []byte(out), true, nil
}

// scramField returns field i of a SCRAM message if it has prefix.
func scramField(msg string, i int, prefix string) (string, bool) {
	fields := strings.Split(msg, ",")
	if i >= len(fields) || !strings.HasPrefix(fields[i], prefix) {
		return "", false
	}
	return fields[i][len(prefix):], true
}

// kafkaNonceFinal verifies a client-final message whose nonce only ends
// with the one the server sent. Kafka accepts that (it checks endsWith),
// and librdkafka relies on it: its client-final nonce is its own nonce
// followed by the server's whole one. xdg-go/scram insists on equality, so
// this one case is verified here, by RFC 5802's formulas over the messages
// as sent: AuthMessage = client-first-bare "," server-first ","
// client-final-without-proof; ClientKey = proof XOR HMAC(StoredKey,
// AuthMessage); H(ClientKey) must equal StoredKey.
func (x *scramExchange) kafkaNonceFinal(c2 string) ([]byte, bool, error) {
	fail := func(why string) ([]byte, bool, error) { return nil, false, errors.New("SCRAM: " + why) }
	// gs2 header: flag "," [authzid] "," — then the bare message.
	i := strings.Index(x.c1, ",")
	j := strings.Index(x.c1[i+1:], ",")
	if i < 0 || j < 0 {
		return fail("malformed client-first message")
	}
	gs2, c1bare := x.c1[:i+j+2], x.c1[i+j+2:]
	cbind, ok := scramField(c2, 0, "c=")
	if !ok || cbind != base64.StdEncoding.EncodeToString([]byte(gs2)) {
		return fail("channel binding mismatch")
	}
	k := strings.LastIndex(c2, ",p=")
	if k < 0 {
		return fail("client-final message without proof")
	}
	proof, err := base64.StdEncoding.DecodeString(c2[k+3:])
	if err != nil {
		return fail("malformed proof")
	}
	h, err := scramcred.HashFor(x.mech)
	if err != nil {
		return nil, false, err
	}
	authMsg := []byte(c1bare + "," + x.s1 + "," + c2[:k])
	sig := hmac.New(h, x.cred.StoredKey)
	sig.Write(authMsg)
	clientKey := sig.Sum(nil)
	if len(proof) != len(clientKey) {
		return fail("proof of the wrong length")
	}
	for n := range clientKey {
		clientKey[n] ^= proof[n]
	}
	stored := h()
	stored.Write(clientKey)
	if !hmac.Equal(stored.Sum(nil), x.cred.StoredKey) {
		return fail("challenge proof invalid")
	}
	if z := x.conv.AuthzID(); z != "" && z != x.conv.Username() {
		return fail("authorization id differs from the user name")
	}
	srvSig := hmac.New(h, x.cred.ServerKey)
	srvSig.Write(authMsg)
	return []byte("v=" + base64.StdEncoding.EncodeToString(srvSig.Sum(nil))), true, nil
}
