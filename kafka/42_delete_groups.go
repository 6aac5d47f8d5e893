package kafka

// DeleteGroups: v0-2
//
// Behaviour:
//   - Deletes empty groups: their offsets and metadata get tombstones in
//     __consumer_offsets (through Raft) and are forgotten. A group with
//     members is NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND, one
//     coordinated elsewhere NOT_COORDINATOR.
//   - Authorization: Delete on each group, else GROUP_AUTHORIZATION_FAILED for
//     it.
//
// Version notes:
//   - v1: ThrottleMillis
//   - v2: flexible versions

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(42, 0, 2, handleDeleteGroups) }

func handleDeleteGroups(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	resp.Version = r.version
	for _, name := range req.Groups {
		out := kmsg.NewDeleteGroupsResponseGroup()
		out.Group = name
		if !s.authorize(r, acl.Delete, acl.Group, name) {
			out.ErrorCode = kerr.GroupAuthorizationFailed.Code
		} else {
			out.ErrorCode = errCode(s.groups.DeleteGroup(name))
		}
		resp.Groups = append(resp.Groups, out)
	}
	return resp, nil
}
