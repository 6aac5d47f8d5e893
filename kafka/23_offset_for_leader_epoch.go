package kafka

// OffsetForLeaderEpoch: v0-4
//
// Behaviour:
//   - Each partition answers from its leader's leader-epoch history (the
//     epochs stamped into the log's batches, engine.OffsetForLeaderEpoch):
//     the largest epoch at or below LeaderEpoch and the offset where its data
//     ends, the high watermark for the current epoch. This is how consumers
//     (KIP-320) detect a log truncated under their position after a
//     failover. An epoch below the oldest one the log still holds answers
//     that epoch and the log's first epoch start offset; an epoch above the
//     current one, or -1, answers LeaderEpoch -1 and EndOffset -1 with no
//     error, as Kafka does.
//   - Only the partition leader answers (NOT_LEADER_OR_FOLLOWER otherwise).
//     CurrentLeaderEpoch (v2+), when not -1, is fenced against the leader's
//     epoch first: older answers FENCED_LEADER_EPOCH, newer
//     UNKNOWN_LEADER_EPOCH.
//   - ReplicaID (v3+) is not checked: chronik's replicas use Raft, so a
//     follower id is answered like a consumer (-1), by the leader.
//   - Unknown topics and partitions answer UNKNOWN_TOPIC_OR_PARTITION.
//   - Authorization: Describe on each topic, else TOPIC_AUTHORIZATION_FAILED
//     for its partitions.
//
// Version notes:
//   - v1: LeaderEpoch in the response
//   - v2: CurrentLeaderEpoch
//   - v3: ReplicaID
//   - v4: flexible versions

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(23, 0, 4, handleOffsetForLeaderEpoch) }

func handleOffsetForLeaderEpoch(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	resp.Version = r.version
	describable := s.topicAuthorizer(r, acl.Describe)
	for _, rt := range req.Topics {
		t := kmsg.NewOffsetForLeaderEpochResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			p.Partition = rp.Partition
			if !describable.ok(rt.Topic) {
				p.ErrorCode = kerr.TopicAuthorizationFailed.Code
				t.Partitions = append(t.Partitions, p)
				continue
			}
			current := rp.CurrentLeaderEpoch
			if r.version < 2 {
				current = -1 // not in the request before v2
			}
			res, err := s.be.OffsetForLeaderEpoch(ctx, rt.Topic, rp.Partition, current, rp.LeaderEpoch)
			if err != nil {
				p.ErrorCode = errorCode(err)
			} else {
				p.LeaderEpoch, p.EndOffset = res.LeaderEpoch, res.EndOffset
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp, nil
}
