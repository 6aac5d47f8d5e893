package kafka

// DescribeGroups: v0-5
//
// Behaviour:
//   - Answers each group coordinated here: state, protocol type, protocol
//     and members with client id, host, subscription metadata and
//     assignment. A group that does not exist is described as Dead with no
//     error (Kafka's answer); groups coordinated elsewhere get
//     NOT_COORDINATOR.
//   - Authorized operations (v3+) are not computed: chronik has no ACLs.
//   - Authorization: Describe on each group, else GROUP_AUTHORIZATION_FAILED
//     for it.
//
// Version notes:
//   - v1: ThrottleMillis
//   - v3: IncludeAuthorizedOperations
//   - v4: InstanceID per member
//   - v5: flexible versions

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(15, 0, 5, handleDescribeGroups) }

func handleDescribeGroups(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	resp.Version = r.version
	for _, name := range req.Groups {
		out := kmsg.NewDescribeGroupsResponseGroup()
		out.Group = name
		if !s.authorize(r, acl.Describe, acl.Group, name) {
			out.ErrorCode = kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, out)
			continue
		}
		d, e := s.groups.DescribeGroup(name)
		out.ErrorCode = errCode(e)
		out.State, out.ProtocolType, out.Protocol = d.State, d.ProtocolType, d.Protocol
		for _, m := range d.Members {
			dm := kmsg.NewDescribeGroupsResponseGroupMember()
			dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.ID, m.InstanceID, m.ClientID, m.ClientHost
			dm.ProtocolMetadata, dm.MemberAssignment = m.Metadata, m.Assignment
			out.Members = append(out.Members, dm)
		}
		resp.Groups = append(resp.Groups, out)
	}
	return resp, nil
}
