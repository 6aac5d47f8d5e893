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

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(8, 2, 9, handleOffsetCommit) }

func handleOffsetCommit(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetCommitRequest)
	var v *metaView
	known := func(topic string, partition int32) bool {
		if v == nil {
			v = s.view()
		}
		return v.partition(topic, partition) != nil
	}
	return s.groups.CommitOffsets(req, known), nil
}
