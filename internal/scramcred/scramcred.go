// Package scramcred derives the SCRAM credentials (RFC 5802) chronik
// stores for a user: salt, iteration count, StoredKey and ServerKey per
// mechanism, as Kafka stores them. The SCRAM exchange itself is
// github.com/xdg-go/scram's; this package only turns a password (or a
// client-salted password, as AlterUserScramCredentials carries) into the
// stored values, and checks a PLAIN password against them.
//
// Passwords are used as their UTF-8 bytes, without SASLprep, as Kafka's
// ScramFormatter does, so credentials made by any Kafka admin client work.
package scramcred

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
)

// Mechanism names.
const (
	SHA256 = "SCRAM-SHA-256"
	SHA512 = "SCRAM-SHA-512"
)

// Mechanisms lists the SCRAM mechanisms in Kafka's type order (1, 2).
var Mechanisms = []string{SHA256, SHA512}

// Iteration bounds, as Kafka's: fewer than MinIterations or more than
// MaxIterations is UNACCEPTABLE_CREDENTIAL.
const (
	MinIterations = 4096
	MaxIterations = 16384
	// DefaultIterations is what chronik uses when it salts a password
	// itself (chronik user create, --bootstrap-user) and for the fake
	// credential of an unknown user.
	DefaultIterations = 8192
	// SaltBytes is the length of the salts chronik generates.
	SaltBytes = 32
)

// ErrUnknownMechanism: a mechanism other than SCRAM-SHA-256 and SCRAM-SHA-512.
var ErrUnknownMechanism = errors.New("chronik: unknown SCRAM mechanism")

// Credential is what is stored for one user and one mechanism. The
// password cannot be recovered from it.
type Credential struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// HashFor returns the hash of mechanism.
func HashFor(mechanism string) (func() hash.Hash, error) {
	switch mechanism {
	case SHA256:
		return sha256.New, nil
	case SHA512:
		return sha512.New, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownMechanism, mechanism)
}

// MechanismType is Kafka's number for mechanism (1 SCRAM-SHA-256, 2
// SCRAM-SHA-512), 0 when unknown.
func MechanismType(mechanism string) int8 {
	switch mechanism {
	case SHA256:
		return 1
	case SHA512:
		return 2
	}
	return 0
}

// MechanismName is the mechanism of Kafka's number t, "" when unknown.
func MechanismName(t int8) string {
	switch t {
	case 1:
		return SHA256
	case 2:
		return SHA512
	}
	return ""
}

// SaltPassword is PBKDF2 over password with mechanism's hash (Hi() of RFC
// 5802).
func SaltPassword(mechanism, password string, salt []byte, iterations int) ([]byte, error) {
	h, err := HashFor(mechanism)
	if err != nil {
		return nil, err
	}
	if iterations < 1 {
		return nil, fmt.Errorf("chronik: SCRAM iterations %d: must be positive", iterations)
	}
	sp, err := pbkdf2.Key(h, password, salt, iterations, h().Size())
	if err != nil {
		return nil, fmt.Errorf("chronik: salt password: %w", err)
	}
	return sp, nil
}

// FromSaltedPassword returns the credential of a salted password:
// StoredKey = H(HMAC(salted, "Client Key")), ServerKey = HMAC(salted,
// "Server Key").
func FromSaltedPassword(mechanism string, salted, salt []byte, iterations int) (Credential, error) {
	h, err := HashFor(mechanism)
	if err != nil {
		return Credential{}, err
	}
	clientKey := mac(h, salted, "Client Key")
	sh := h()
	sh.Write(clientKey)
	return Credential{
		Salt:       append([]byte(nil), salt...),
		Iterations: iterations,
		StoredKey:  sh.Sum(nil),
		ServerKey:  mac(h, salted, "Server Key"),
	}, nil
}

// New salts password with a fresh random salt and returns its credential.
func New(mechanism, password string, iterations int) (Credential, error) {
	salt := make([]byte, SaltBytes)
	rand.Read(salt)
	sp, err := SaltPassword(mechanism, password, salt, iterations)
	if err != nil {
		return Credential{}, err
	}
	return FromSaltedPassword(mechanism, sp, salt, iterations)
}

// Verify reports whether password matches c, comparing StoredKey in
// constant time. It costs c.Iterations PBKDF2 rounds.
func Verify(mechanism, password string, c Credential) bool {
	sp, err := SaltPassword(mechanism, password, c.Salt, c.Iterations)
	if err != nil {
		return false
	}
	got, err := FromSaltedPassword(mechanism, sp, c.Salt, c.Iterations)
	if err != nil {
		return false
	}
	return hmac.Equal(got.StoredKey, c.StoredKey)
}

// Fake returns a credential for a user that does not exist, so that an
// exchange for it looks like one for a real user: the salt is derived from
// secret and the user name (the same on every attempt, so a client cannot
// tell a fake salt by its changing), the iterations are DefaultIterations,
// and the keys match no password.
func Fake(mechanism, user string, secret []byte) Credential {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("salt\x00" + mechanism + "\x00" + user))
	salt := h.Sum(nil)[:SaltBytes]
	n := 64
	if hf, err := HashFor(mechanism); err == nil {
		n = hf().Size()
	}
	keys := make([]byte, 2*n)
	rand.Read(keys)
	return Credential{Salt: salt, Iterations: DefaultIterations, StoredKey: keys[:n], ServerKey: keys[n:]}
}

func mac(h func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
