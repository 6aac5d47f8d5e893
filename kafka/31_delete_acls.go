package kafka

// DeleteAcls: v0-3
//
// Behaviour:
//   - Each filter (see acl.Filter; ANY and MATCH pattern types, null fields
//     match all) is resolved against this broker's view of __meta; every
//     binding matched by any filter is removed by one Raft proposal. Each
//     filter's result lists the bindings it matched.
//   - An invalid filter answers INVALID_REQUEST in its result and deletes
//     nothing.
//   - Authorization: Alter on the cluster, else
//     CLUSTER_AUTHORIZATION_FAILED for every filter.
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

func init() { regKey(31, 0, 3, handleDeleteACLs) }

func handleDeleteACLs(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	resp.Version = r.version
	resp.Results = make([]kmsg.DeleteACLsResponseResult, len(req.Filters))
	allowed := s.authorizeCluster(r, acl.Alter)
	var valid []acl.Filter
	var slots []int // result index of each of valid
	for i, rf := range req.Filters {
		res := &resp.Results[i]
		*res = kmsg.NewDeleteACLsResponseResult()
		if !allowed {
			res.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			continue
		}
		f := aclFilter(r.version, rf.ResourceType, rf.ResourceName, rf.ResourcePatternType, rf.Principal, rf.Host, rf.Operation, rf.PermissionType)
		if err := f.Validate(); err != nil {
			res.ErrorCode, res.ErrorMessage = kerr.InvalidRequest.Code, kmsg.StringPtr(err.Error())
			continue
		}
		valid = append(valid, f)
		slots = append(slots, i)
	}
	if len(valid) == 0 {
		return resp, nil
	}
	// No timeout in the request: the engine bounds the proposal
	// (engine.Config.ProduceTimeout).
	matched, err := s.be.DeleteACLs(ctx, valid)
	if err != nil {
		for _, i := range slots {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = errorCode(err), errorMessage(err)
		}
		return resp, nil
	}
	n := 0
	for j, i := range slots {
		for _, b := range matched[j] {
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName = kmsg.ACLResourceType(b.ResourceType), b.ResourceName
			m.ResourcePatternType = kmsg.ACLResourcePatternType(b.PatternType)
			m.Principal, m.Host = b.Principal, b.Host
			m.Operation, m.PermissionType = kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
			resp.Results[i].MatchingACLs = append(resp.Results[i].MatchingACLs, m)
			n++
		}
	}
	if n > 0 {
		s.log.Info("deleted acls", "count", n, "principal", r.principalName())
	}
	return resp, nil
}
