package engine

// SCRAM users: credentials stored salted in __meta, replicated to every
// broker. The Kafka server authenticates SASL PLAIN and SCRAM against
// them and answers AlterUserScramCredentials and
// DescribeUserScramCredentials with them.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/chronik-io/chronik/internal/scramcred"
	"github.com/chronik-io/chronik/shards"
)

// ScramCredential is one user's stored credential for one mechanism: salt,
// iteration count, StoredKey and ServerKey (RFC 5802), never the password.
type ScramCredential = scramcred.Credential

// ScramChange is an alteration of one user's credentials, applied all or
// none: Set upserts credentials by mechanism ("SCRAM-SHA-256",
// "SCRAM-SHA-512"), Delete removes mechanisms.
type ScramChange struct {
	Set    map[string]ScramCredential
	Delete []string
}

// AlterScramCredentials applies change to user's credentials through
// __meta.
//
// Errors: ErrInvalidCredential (empty user, unknown mechanism, iterations
// outside [4096, 16384], empty salt or keys), ErrUnknownCredential (a
// deleted mechanism the user has no credential for; nothing changes),
// ErrTimeout, ErrClosed.
func (e *Engine) AlterScramCredentials(ctx context.Context, user string, change ScramChange) error {
	return e.alterScram(ctx, &shards.ScramAlteration{User: user, Set: change.Set, Delete: change.Delete})
}

// SetScramCredential stores user's credential for mechanism, replacing any
// other (AlterScramCredentials).
func (e *Engine) SetScramCredential(ctx context.Context, user, mechanism string, c ScramCredential) error {
	return e.AlterScramCredentials(ctx, user, ScramChange{Set: map[string]ScramCredential{mechanism: c}})
}

// DeleteScramCredential removes user's credential for mechanism
// (AlterScramCredentials); ErrUnknownCredential if there is none.
func (e *Engine) DeleteScramCredential(ctx context.Context, user, mechanism string) error {
	return e.AlterScramCredentials(ctx, user, ScramChange{Delete: []string{mechanism}})
}

// EnsureScramUser creates user with password for SCRAM-SHA-256 and
// SCRAM-SHA-512 (fresh salts, scramcred.DefaultIterations) unless the user
// already has a credential, in which case nothing changes, even when
// several brokers race to create it. It reports whether it created the
// user. The password is salted here and never leaves this broker.
//
// Errors: ErrInvalidCredential, ErrTimeout, ErrClosed.
func (e *Engine) EnsureScramUser(ctx context.Context, user, password string) (created bool, err error) {
	if len(e.ScramCredentials(user)) > 0 {
		return false, nil
	}
	set := map[string]ScramCredential{}
	for _, mech := range scramcred.Mechanisms {
		c, err := scramcred.New(mech, password, scramcred.DefaultIterations)
		if err != nil {
			return false, fmt.Errorf("user %q: %w", user, err)
		}
		set[mech] = c
	}
	if err := e.alterScram(ctx, &shards.ScramAlteration{User: user, Set: set, IfAbsent: true}); err != nil {
		return false, err
	}
	// Another broker may have won the race.
	return slices.Equal(e.ScramCredentials(user)[scramcred.SHA512].Salt, set[scramcred.SHA512].Salt), nil
}

func (e *Engine) alterScram(ctx context.Context, a *shards.ScramAlteration) error {
	if !a.Valid() { // refused without a proposal
		return fmt.Errorf("user %q: %w", a.User, ErrInvalidCredential)
	}
	if len(e.meta.State().ScramSecret) == 0 {
		a.Secret = make([]byte, 32)
		rand.Read(a.Secret)
	}
	_, err := e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpAlterScram, Scram: a})
	var me *metaError
	if errors.As(err, &me) {
		switch me.code {
		case shards.MetaUnknownCredential:
			return fmt.Errorf("user %q: %w", a.User, ErrUnknownCredential)
		case shards.MetaBadCommand:
			return fmt.Errorf("user %q: %w", a.User, ErrInvalidCredential)
		}
	}
	if err != nil {
		return fmt.Errorf("alter SCRAM credentials of user %q: %w", a.User, err)
	}
	return nil
}

// ScramCredentials returns user's credentials by mechanism as this broker's
// __meta replica has them (nil if none). The map is the caller's; the
// credentials' byte slices must not be modified.
func (e *Engine) ScramCredentials(user string) map[string]ScramCredential {
	return maps.Clone(e.meta.State().ScramUsers[user])
}

// ScramUsers returns the users that have SCRAM credentials, sorted.
func (e *Engine) ScramUsers() []string {
	return slices.Sorted(maps.Keys(e.meta.State().ScramUsers))
}

// ScramSecret returns the cluster-wide key of the fake credentials answered
// for unknown users (scramcred.Fake), nil until the first user is stored.
func (e *Engine) ScramSecret() []byte { return e.meta.State().ScramSecret }
