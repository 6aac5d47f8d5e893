package kafka

// ListOffsets: v1-8
//
// Behaviour:
//   - Timestamp -2 (earliest) answers the log start offset, -1 (latest) the
//     high watermark, -3 (max timestamp, v7+) the record with the largest
//     timestamp; any other value the first offset whose timestamp is at or
//     after it (-1 when none). -4 (earliest local, v8+) is the log start
//     offset: chronik keeps every segment local.
//   - Only the partition leader answers (NOT_LEADER_OR_FOLLOWER otherwise).
//   - With IsolationLevel 1 (read_committed, v2+) latest (-1) answers the
//     last stable offset: the first offset of the oldest ongoing
//     transaction on the partition, else the high watermark.
//   - Authorization: Describe on each topic, else TOPIC_AUTHORIZATION_FAILED
//     for its partitions.
//
// Version notes:
//   - v1: single offset per partition, Timestamp in the response
//   - v2: IsolationLevel
//   - v4: CurrentLeaderEpoch, LeaderEpoch in the response
//   - v6: flexible versions
//   - v7: max timestamp (-3, KIP-734)
//   - v8: earliest local (-4, KIP-405)

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/engine"
)

func init() { regKey(2, 1, 8, handleListOffsets) }

func handleListOffsets(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	resp.Version = r.version
	describable := s.topicAuthorizer(r, acl.Describe)
	for _, rt := range req.Topics {
		t := kmsg.NewListOffsetsResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewListOffsetsResponseTopicPartition()
			p.Partition = rp.Partition
			spec := rp.Timestamp
			switch {
			case spec == -4:
				spec = engine.Earliest
			case spec == engine.Latest && req.IsolationLevel == 1:
				spec = engine.LastStable
			}
			if !describable.ok(rt.Topic) {
				p.ErrorCode = kerr.TopicAuthorizationFailed.Code
				t.Partitions = append(t.Partitions, p)
				continue
			}
			res, err := s.be.ListOffsets(ctx, rt.Topic, rp.Partition, spec)
			if err != nil {
				p.ErrorCode = errorCode(err)
			} else {
				p.Offset = res.Offset
				p.Timestamp = res.Timestamp
				p.LeaderEpoch = res.LeaderEpoch
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp, nil
}
