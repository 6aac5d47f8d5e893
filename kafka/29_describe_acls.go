package kafka

// DescribeAcls: v0-3
//
// Behaviour:
//   - Lists the bindings stored in __meta that the filter matches (see
//     acl.Filter: ANY and MATCH pattern types, null fields match all),
//     grouped by resource pattern, from this broker's view of __meta.
//   - An invalid filter (UNKNOWN types, MATCH without a name) answers
//     INVALID_REQUEST.
//   - Authorization: Describe on the cluster, else
//     CLUSTER_AUTHORIZATION_FAILED.
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

func init() { regKey(29, 0, 3, handleDescribeACLs) }

func handleDescribeACLs(s *Server, _ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeACLsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	resp.Version = r.version
	if !s.authorizeCluster(r, acl.Describe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}
	f := aclFilter(r.version, req.ResourceType, req.ResourceName, req.ResourcePatternType, req.Principal, req.Host, req.Operation, req.PermissionType)
	if err := f.Validate(); err != nil {
		resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, kmsg.StringPtr(err.Error())
		return resp, nil
	}
	type pattern struct {
		rt   acl.ResourceType
		name string
		pt   acl.PatternType
	}
	at := map[pattern]int{} // index in resp.Resources
	for _, b := range s.be.ACLs(f) {
		k := pattern{b.ResourceType, b.ResourceName, b.PatternType}
		i, ok := at[k]
		if !ok {
			res := kmsg.NewDescribeACLsResponseResource()
			res.ResourceType, res.ResourceName = kmsg.ACLResourceType(b.ResourceType), b.ResourceName
			res.ResourcePatternType = kmsg.ACLResourcePatternType(b.PatternType)
			i = len(resp.Resources)
			at[k] = i
			resp.Resources = append(resp.Resources, res)
		}
		a := kmsg.NewDescribeACLsResponseResourceACL()
		a.Principal, a.Host = b.Principal, b.Host
		a.Operation, a.PermissionType = kmsg.ACLOperation(b.Operation), kmsg.ACLPermissionType(b.Permission)
		resp.Resources[i].ACLs = append(resp.Resources[i].ACLs, a)
	}
	return resp, nil
}
