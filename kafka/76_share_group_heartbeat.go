package kafka

// ShareGroupHeartbeat: v0-1 (KIP-932)
//
// Behaviour:
//   - A share group member joins (member epoch 0, with its subscription),
//     heartbeats with its member epoch and leaves (-1). The coordinator
//     (package coordinator, share.go) assigns the subscribed topics'
//     partitions, several members per partition when there are more
//     members than partitions, and answers each member its epoch and, when
//     it changed or the request carried the subscription, its assignment.
//   - A classic or consumer group of the same name: GROUP_ID_NOT_FOUND.
//   - Membership is not written through Raft: after a coordinator failover
//     members get UNKNOWN_MEMBER_ID and join again.
//   - Authorization: Read on the group, else GROUP_AUTHORIZATION_FAILED;
//     Describe on every subscribed topic, else TOPIC_AUTHORIZATION_FAILED.
//
// Version notes:
//   - v1: no change in the request (Kafka 4.1 made the API stable).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/coordinator"
)

func init() { regKey(76, 0, 1, handleShareGroupHeartbeat) }

func handleShareGroupHeartbeat(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ShareGroupHeartbeatRequest)
	if !s.authorize(r, acl.Read, acl.Group, req.GroupID) {
		return errorResponse(r.kreq, kerr.GroupAuthorizationFailed.Code), nil
	}
	az := s.topicAuthorizer(r, acl.Describe)
	for _, t := range req.SubscribedTopicNames {
		if !az.ok(t) {
			return errorResponse(r.kreq, kerr.TopicAuthorizationFailed.Code), nil
		}
	}
	return s.groups.ShareGroupHeartbeat(ctx, coordinator.Client{ID: r.clientID, Host: r.clientHost}, req), nil
}
