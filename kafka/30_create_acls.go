package kafka

// CreateAcls: v0-3
//
// Behaviour:
//   - Every valid creation is stored in __meta by one Raft proposal, so they
//     reach every broker together; a binding already stored is not stored
//     twice. Each creation gets its own result, in request order.
//   - An invalid creation (see acl.Binding.Validate: UNKNOWN or ANY types,
//     MATCH pattern, an operation the resource type has not, a principal
//     that is not User:<name>, a host that is not * or an IP, a cluster
//     name other than kafka-cluster, DelegationToken and User resources)
//     answers INVALID_REQUEST with the reason and is not stored.
//   - Authorization: Alter on the cluster, else
//     CLUSTER_AUTHORIZATION_FAILED for every creation.
//
// Version notes:
//   - v1: ResourcePatternType (LITERAL before v1)
//   - v2: flexible versions
//   - v3: no change (user resources, KIP-554)

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(30, 0, 3, handleCreateACLs) }

func handleCreateACLs(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	resp.Version = r.version
	resp.Results = make([]kmsg.CreateACLsResponseResult, len(req.Creations))
	allowed := s.authorizeCluster(r, acl.Alter)
	var valid []acl.Binding
	var slots []int // result index of each of valid
	for i, c := range req.Creations {
		res := &resp.Results[i]
		*res = kmsg.NewCreateACLsResponseResult()
		if !allowed {
			res.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			continue
		}
		b := acl.Binding{
			ResourceType: acl.ResourceType(c.ResourceType), ResourceName: c.ResourceName,
			PatternType: wirePattern(r.version, c.ResourcePatternType), Principal: c.Principal, Host: c.Host,
			Operation: acl.Operation(c.Operation), Permission: acl.Permission(c.PermissionType),
		}
		if err := b.Validate(); err != nil {
			res.ErrorCode, res.ErrorMessage = kerr.InvalidRequest.Code, kmsg.StringPtr(err.Error())
			continue
		}
		valid = append(valid, b)
		slots = append(slots, i)
	}
	if len(valid) == 0 {
		return resp, nil
	}
	// No timeout in the request: the engine bounds the proposal
	// (engine.Config.ProduceTimeout).
	if err := s.be.CreateACLs(ctx, valid); err != nil {
		for _, i := range slots {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = errorCode(err), errorMessage(err)
		}
		return resp, nil
	}
	s.log.Info("created acls", "count", len(valid), "principal", r.principalName())
	return resp, nil
}
