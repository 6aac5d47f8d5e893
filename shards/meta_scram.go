package shards

// SCRAM users in __meta: per user and mechanism the salted credential
// (salt, iterations, StoredKey, ServerKey), never a password. PLAIN
// authentication checks a password against these too, so there is one
// user store.

import (
	"maps"
	"slices"

	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/chronik-io/chronik/internal/scramcred"
)

// ScramCredential is one user's credential for one mechanism.
type ScramCredential = scramcred.Credential

// OpAlterScram changes user User's SCRAM credentials, all or none:
// ScramSet upserts credentials by mechanism (with ScramIfAbsent, only when
// the user has no credential at all, else nothing changes), ScramDelete
// removes mechanisms. Deleting a credential the user does not have rejects
// the whole command with MetaUnknownCredential. The first command that
// carries ScramSecret while the state has none stores it (see
// MetaState.ScramSecret).
const OpAlterScram = "alter-scram"

// MetaUnknownCredential: OpAlterScram deleted a credential that does not
// exist.
const MetaUnknownCredential uint64 = 100

// ScramAlteration is the SCRAM part of an OpAlterScram MetaCommand.
type ScramAlteration struct {
	User     string                     `json:"user"`
	Set      map[string]ScramCredential `json:"set,omitempty"`
	Delete   []string                   `json:"delete,omitempty"`
	IfAbsent bool                       `json:"if_absent,omitempty"`
	// Secret seeds MetaState.ScramSecret if it is still empty: random
	// bytes chosen by the proposer, so the state machine stays
	// deterministic.
	Secret []byte `json:"secret,omitempty"`
}

// Valid reports whether a names a user and every credential and mechanism
// of it is acceptable (known mechanism, iterations in
// [scramcred.MinIterations, scramcred.MaxIterations], salt and keys set).
func (a *ScramAlteration) Valid() bool {
	if a.User == "" {
		return false
	}
	for mech, c := range a.Set {
		if _, err := scramcred.HashFor(mech); err != nil {
			return false
		}
		if c.Iterations < scramcred.MinIterations || c.Iterations > scramcred.MaxIterations ||
			len(c.Salt) == 0 || len(c.StoredKey) == 0 || len(c.ServerKey) == 0 {
			return false
		}
	}
	for _, mech := range a.Delete {
		if _, err := scramcred.HashFor(mech); err != nil {
			return false
		}
	}
	return true
}

func (s *MetaState) alterScram(a *ScramAlteration) sm.Result {
	if a == nil || !a.Valid() {
		return sm.Result{Value: MetaBadCommand, Data: []byte{1}}
	}
	cur := s.ScramUsers[a.User]
	for _, mech := range a.Delete {
		if _, ok := cur[mech]; !ok {
			return sm.Result{Value: MetaUnknownCredential, Data: []byte{1}}
		}
	}
	if len(s.ScramSecret) == 0 && len(a.Secret) > 0 {
		s.ScramSecret = slices.Clone(a.Secret)
	}
	if a.IfAbsent && len(cur) > 0 {
		return sm.Result{Value: MetaOK}
	}
	next := maps.Clone(cur)
	if next == nil {
		next = map[string]ScramCredential{}
	}
	for _, mech := range a.Delete {
		delete(next, mech)
	}
	maps.Copy(next, a.Set)
	// Copy on write: the user map of the previous state is not touched.
	s.ScramUsers = maps.Clone(s.ScramUsers)
	if s.ScramUsers == nil {
		s.ScramUsers = map[string]map[string]ScramCredential{}
	}
	if len(next) == 0 {
		delete(s.ScramUsers, a.User)
	} else {
		s.ScramUsers[a.User] = next
	}
	return sm.Result{Value: MetaOK}
}
