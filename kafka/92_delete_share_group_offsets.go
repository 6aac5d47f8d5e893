package kafka

// DeleteShareGroupOffsets: v0 (KIP-932)
//
// Behaviour:
//   - On the group's coordinator, for an empty share group: deletes the
//     share state of every partition of the named topics (written through
//     Raft as uninitialized under a new state epoch, so partition leaders
//     drop what they hold); the next fetch initializes them again from
//     share.auto.offset.reset.
//   - While the coordinator loads the request waits up to 10 s.
//   - NON_EMPTY_GROUP while the group has members; GROUP_ID_NOT_FOUND when
//     no share group has the name; UNKNOWN_TOPIC_OR_PARTITION per topic that
//     does not exist.
//   - Authorization: Read on the group, else GROUP_AUTHORIZATION_FAILED;
//     Read on each topic, else TOPIC_AUTHORIZATION_FAILED.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func handleDeleteShareGroupOffsets(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteShareGroupOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteShareGroupOffsetsResponse)
	resp.Version = r.version
	if !s.authorize(r, acl.Read, acl.Group, req.GroupID) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp, nil
	}
	v := s.view()
	az := s.topicAuthorizer(r, acl.Read)
	var ids [][16]byte
	for _, rt := range req.Topics {
		t := kmsg.NewDeleteShareGroupOffsetsResponseTopic()
		t.Topic = rt.Topic
		ti := v.byName[rt.Topic]
		switch {
		case !az.ok(rt.Topic):
			t.ErrorCode = kerr.TopicAuthorizationFailed.Code
		case ti == nil:
			t.ErrorCode = kerr.UnknownTopicOrPartition.Code
		default:
			t.TopicID = ti.ID
			ids = append(ids, ti.ID)
		}
		resp.Topics = append(resp.Topics, t)
	}
	if e := asKerr(retryLoading(ctx, false, func() error { return kerrOrNil(s.groups.DeleteShareGroupOffsets(req.GroupID, ids)) })); e != nil {
		resp.ErrorCode, resp.ErrorMessage = e.Code, kmsg.StringPtr(e.Message)
	}
	return resp, nil
}
