package kafka

// DescribeProducers: v0
//
// Behaviour:
//   - Per partition, on its leader: the producers it knows (KIP-664), with
//     epoch, last sequence (-1 after a marker of a new epoch), last
//     timestamp (max timestamp of the last batch or marker), coordinator
//     epoch of the last marker (-1 if none) and the first offset of the
//     ongoing transaction (-1 if none). The partition rebuilds its producer
//     table from the tail of its log when a replica opens, so producers
//     that last wrote long ago may be missing; they do not expire as
//     Kafka's do after producer.id.expiration.ms.
//   - NOT_LEADER_OR_FOLLOWER on any other broker (Kafka answers from
//     followers too; clients send it to the leader),
//     UNKNOWN_TOPIC_OR_PARTITION for a partition that does not exist,
//     LEADER_NOT_AVAILABLE during an election.
//   - Authorization: Read on each topic, else TOPIC_AUTHORIZATION_FAILED for
//     its partitions.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(61, 0, 0, handleDescribeProducers) }

func handleDescribeProducers(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeProducersRequest)
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	resp.Version = r.version
	readable := s.topicAuthorizer(r, acl.Read)
	for _, rt := range req.Topics {
		ot := kmsg.NewDescribeProducersResponseTopic()
		ot.Topic = rt.Topic
		for _, p := range rt.Partitions {
			op := kmsg.NewDescribeProducersResponseTopicPartition()
			op.Partition = p
			if !readable.ok(rt.Topic) {
				op.ErrorCode = kerr.TopicAuthorizationFailed.Code
				ot.Partitions = append(ot.Partitions, op)
				continue
			}
			ps, err := s.be.Producers(rt.Topic, p)
			if err != nil {
				op.ErrorCode, op.ErrorMessage = errorCode(err), errorMessage(err)
				ot.Partitions = append(ot.Partitions, op)
				continue
			}
			for _, st := range ps {
				ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
				ap.ProducerID, ap.ProducerEpoch, ap.LastSequence = st.ProducerID, int32(st.Epoch), st.LastSequence
				ap.LastTimestamp, ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = st.LastTimestamp, st.CoordinatorEpoch, st.TxnStartOffset
				op.ActiveProducers = append(op.ActiveProducers, ap)
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp, nil
}
