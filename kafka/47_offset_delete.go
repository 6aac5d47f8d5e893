package kafka

// OffsetDelete: v0
//
// Behaviour:
//   - Deletes committed offsets of a group (tombstones through Raft). A
//     partition of a topic the group's members are subscribed to is
//     GROUP_SUBSCRIBED_TO_TOPIC (consumer groups only: their subscriptions are
//     decoded); an unknown group GROUP_ID_NOT_FOUND; a non-consumer group
//     with members NON_EMPTY_GROUP.
//   - Authorization: Delete on the group, else GROUP_AUTHORIZATION_FAILED;
//     Read on each topic, else TOPIC_AUTHORIZATION_FAILED for its partitions.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(47, 0, 0, handleOffsetDelete) }

func handleOffsetDelete(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetDeleteRequest)
	if !s.authorize(r, acl.Delete, acl.Group, req.Group) {
		return errorResponse(req, kerr.GroupAuthorizationFailed.Code), nil
	}
	// Topics the principal may not Read answer TOPIC_AUTHORIZATION_FAILED.
	readable := s.topicAuthorizer(r, acl.Read)
	var denied []kmsg.OffsetDeleteResponseTopic
	for _, t := range splitDenied(&readable, &req.Topics, func(t kmsg.OffsetDeleteRequestTopic) string { return t.Topic }) {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, kerr.TopicAuthorizationFailed.Code
			rt.Partitions = append(rt.Partitions, rp)
		}
		denied = append(denied, rt)
	}
	resp := s.groups.DeleteOffsets(req)
	if resp.ErrorCode == 0 {
		resp.Topics = append(resp.Topics, denied...)
	}
	return resp, nil
}
