package kafka

// OffsetCommit: v2-9
//
// Behaviour:
//   - Sent to the group's coordinator. The offsets are written through Raft
//     to the group's __consumer_offsets partition (Kafka's OffsetCommitKey /
//     OffsetCommitValue records) before the answer: a committed offset
//     survives the coordinator's failure.
//   - A member of a group must send its member id and the current
//     generation: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION otherwise, and
//     REBALANCE_IN_PROGRESS while the group completes a rebalance. A commit
//     with generation -1 is a standalone (admin) commit, accepted only while
//     the group has no members.
//   - Partitions of unknown topics are UNKNOWN_TOPIC_OR_PARTITION; metadata
//     over GroupConfig.MaxMetadataBytes is OFFSET_METADATA_TOO_LARGE.
//   - The retention time of v2-4 is ignored: offsets expire by
//     GroupConfig.OffsetsRetention once the group is empty.
//   - Authorization: Read on the group, else GROUP_AUTHORIZATION_FAILED for
//     every partition; Read on each topic, else TOPIC_AUTHORIZATION_FAILED for
//     its partitions (not committed).
//
// Version notes:
//   - v3: ThrottleMillis
//   - v5: RetentionTimeMillis removed
//   - v6: LeaderEpoch per partition
//   - v7: InstanceID (KIP-345)
//   - v8: flexible versions
//   - v9: the generation may be a KIP-848 member epoch (treated as a generation)

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(8, 2, 9, handleOffsetCommit) }

func handleOffsetCommit(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetCommitRequest)
	if !s.authorize(r, acl.Read, acl.Group, req.Group) {
		return commitRefused(req, kerr.GroupAuthorizationFailed.Code, req.Topics), nil
	}
	// Topics the principal may not Read answer TOPIC_AUTHORIZATION_FAILED
	// and are not committed.
	readable := s.topicAuthorizer(r, acl.Read)
	denied := splitDenied(&readable, &req.Topics, func(t kmsg.OffsetCommitRequestTopic) string { return t.Topic })
	resp := s.groups.CommitOffsets(req, s.partitionKnown())
	resp.Topics = append(resp.Topics, commitRefused(req, kerr.TopicAuthorizationFailed.Code, denied).Topics...)
	return resp, nil
}

// commitRefused answers topics' partitions with code.
func commitRefused(req *kmsg.OffsetCommitRequest, code int16, topics []kmsg.OffsetCommitRequestTopic) *kmsg.OffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	resp.Version = req.Version
	for _, t := range topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
