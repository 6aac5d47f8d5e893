package kafka

// DescribeUserScramCredentials: v0
//
// Behaviour:
//   - No users (null or empty): every user with a SCRAM credential.
//   - A named user without credentials: RESOURCE_NOT_FOUND; a user named
//     twice: DUPLICATE_RESOURCE for it (Kafka's messages).
//   - Per user its mechanisms (1 SCRAM-SHA-256, 2 SCRAM-SHA-512) and
//     iteration counts; never salts or keys.
//   - Read from this broker's __meta replica.
//   - Needs Describe on the cluster (CLUSTER_AUTHORIZATION_FAILED).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/internal/scramcred"
)

func init() { regKey(50, 0, 0, handleDescribeUserScramCredentials) }

func handleDescribeUserScramCredentials(s *Server, _ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	resp.Version = r.version
	if !s.authorizeCluster(r, acl.Describe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}
	var names []string
	count := map[string]int{}
	for _, u := range req.Users {
		if count[u.Name] == 0 {
			names = append(names, u.Name)
		}
		count[u.Name]++
	}
	if len(req.Users) == 0 {
		names = s.be.ScramUsers()
	}
	for _, name := range names {
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = name
		creds := s.be.ScramCredentials(name)
		switch {
		case count[name] > 1:
			res.ErrorCode = kerr.DuplicateResource.Code
			res.ErrorMessage = kmsg.StringPtr("Cannot describe SCRAM credentials for the same user twice in a single request: " + name)
		case len(creds) == 0:
			res.ErrorCode = kerr.ResourceNotFound.Code
			res.ErrorMessage = kmsg.StringPtr("Attempt to describe a user credential that does not exist: " + name)
		default:
			for _, mech := range scramcred.Mechanisms {
				c, ok := creds[mech]
				if !ok {
					continue
				}
				info := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
				info.Mechanism, info.Iterations = scramcred.MechanismType(mech), int32(c.Iterations)
				res.CredentialInfos = append(res.CredentialInfos, info)
			}
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}
