package kafka

// ShareGroupDescribe: v0-1 (KIP-932)
//
// Behaviour:
//   - Describes share groups on their coordinator: state (Empty, Stable),
//     group and assignment epochs, assignor "simple", members with client
//     id and host, rack, subscription and assignment (topic id and name).
//   - A name that is not a share group: GROUP_ID_NOT_FOUND; another
//     broker's group: NOT_COORDINATOR.
//   - Authorization: Describe on each group, else GROUP_AUTHORIZATION_FAILED
//     for that group. AuthorizedOperations is not computed (INT32_MIN).
//
// Version notes:
//   - v1: no change (Kafka 4.1 made the API stable).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(77, 0, 1, handleShareGroupDescribe) }

func handleShareGroupDescribe(s *Server, _ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ShareGroupDescribeRequest)
	allowed := kmsg.NewPtrShareGroupDescribeRequest()
	allowed.Version = req.Version
	var denied []string
	for _, g := range req.GroupIDs {
		if s.authorize(r, acl.Describe, acl.Group, g) {
			allowed.GroupIDs = append(allowed.GroupIDs, g)
		} else {
			denied = append(denied, g)
		}
	}
	resp := s.groups.ShareGroupDescribe(allowed)
	resp.Version = r.version
	for _, g := range denied {
		dg := kmsg.NewShareGroupDescribeResponseGroup()
		dg.GroupID, dg.ErrorCode = g, kerr.GroupAuthorizationFailed.Code
		resp.Groups = append(resp.Groups, dg)
	}
	return resp, nil
}
