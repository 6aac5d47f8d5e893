package kafka

// AlterUserScramCredentials: v0
//
// Behaviour:
//   - Upsertions carry the client-salted password (salt, iterations,
//     SaltedPassword); the broker derives and stores StoredKey and
//     ServerKey in __meta, never the salted password itself.
//   - One result per user; a user's deletions and upsertions apply all or
//     none. Per user, the first problem found is answered:
//     UNACCEPTABLE_CREDENTIAL (empty name, iterations outside [4096,
//     16384], empty salt or salted password), DUPLICATE_RESOURCE (one
//     mechanism of a user altered twice in the request),
//     UNSUPPORTED_SASL_MECHANISM (not SCRAM-SHA-256 or -512),
//     RESOURCE_NOT_FOUND (deleting a credential that does not exist).
//   - Needs Alter on the cluster: CLUSTER_AUTHORIZATION_FAILED for every
//     user otherwise.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/scramcred"
)

func init() { regKey(51, 0, 0, handleAlterUserScramCredentials) }

// scramUserAlter is one user's part of the request and its first problem.
type scramUserAlter struct {
	change engine.ScramChange
	seen   map[int8]bool
	code   int16
	msg    string
}

func (a *scramUserAlter) fail(code int16, msg string) {
	if a.code == 0 {
		a.code, a.msg = code, msg
	}
}

// mechanism checks one (user, mechanism) of the request and returns the
// mechanism's name ("" after a failure).
func (a *scramUserAlter) mechanism(name string, t int8) string {
	if name == "" {
		a.fail(kerr.UnacceptableCredential.Code, "Username must not be empty")
		return ""
	}
	if a.seen[t] {
		a.fail(kerr.DuplicateResource.Code, "A user credential cannot be altered twice in the same request")
		return ""
	}
	a.seen[t] = true
	mech := scramcred.MechanismName(t)
	if mech == "" {
		a.fail(kerr.UnsupportedSaslMechanism.Code, fmt.Sprintf("Unknown SCRAM mechanism %d", t))
	}
	return mech
}

func handleAlterUserScramCredentials(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	resp.Version = r.version
	var order []string
	users := map[string]*scramUserAlter{}
	get := func(name string) *scramUserAlter {
		a := users[name]
		if a == nil {
			a = &scramUserAlter{seen: map[int8]bool{}, change: engine.ScramChange{Set: map[string]engine.ScramCredential{}}}
			users[name] = a
			order = append(order, name)
		}
		return a
	}
	for _, d := range req.Deletions {
		a := get(d.Name)
		if mech := a.mechanism(d.Name, d.Mechanism); mech != "" {
			a.change.Delete = append(a.change.Delete, mech)
		}
	}
	for _, u := range req.Upsertions {
		a := get(u.Name)
		mech := a.mechanism(u.Name, u.Mechanism)
		switch {
		case mech == "":
		case u.Iterations < scramcred.MinIterations:
			a.fail(kerr.UnacceptableCredential.Code, fmt.Sprintf("Too few iterations: %d, at least %d", u.Iterations, scramcred.MinIterations))
		case u.Iterations > scramcred.MaxIterations:
			a.fail(kerr.UnacceptableCredential.Code, fmt.Sprintf("Too many iterations: %d, at most %d", u.Iterations, scramcred.MaxIterations))
		case len(u.Salt) == 0 || len(u.SaltedPassword) == 0:
			a.fail(kerr.UnacceptableCredential.Code, "Salt and salted password must not be empty")
		default:
			c, err := scramcred.FromSaltedPassword(mech, u.SaltedPassword, u.Salt, int(u.Iterations))
			if err != nil {
				a.fail(kerr.UnsupportedSaslMechanism.Code, err.Error())
				break
			}
			a.change.Set[mech] = c
		}
	}
	allowed := s.authorizeCluster(r, acl.Alter)
	for _, name := range order {
		a := users[name]
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User = name
		if a.code == 0 && !allowed {
			a.code, a.msg = kerr.ClusterAuthorizationFailed.Code, "Not authorized to alter SCRAM credentials"
		}
		if a.code == 0 {
			if err := s.be.AlterScramCredentials(ctx, name, a.change); err != nil {
				a.code = errorCode(err)
				a.msg = err.Error()
				if a.code == kerr.ResourceNotFound.Code {
					a.msg = "Attempt to delete a user credential that does not exist"
				}
			}
		}
		res.ErrorCode = a.code
		if a.code != 0 {
			res.ErrorMessage = kmsg.StringPtr(a.msg)
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}
