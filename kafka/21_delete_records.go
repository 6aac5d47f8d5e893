package kafka

// DeleteRecords: v0-2
//
// Behaviour:
//   - Each partition's log start offset moves to the requested offset
//     through the engine (a Raft command on the partition leader; every
//     replica then drops the whole segments below it). Offset -1 means the
//     high watermark. LowWatermark answers the new log start offset; a
//     start already past the offset stays where it is.
//   - After it, ListOffsets earliest answers the new start and a Fetch below
//     it OFFSET_OUT_OF_RANGE, as in Kafka.
//   - Per-partition errors: NOT_LEADER_OR_FOLLOWER on a broker that does not
//     lead the partition, UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE
//     for an offset past the high watermark (or negative other than -1),
//     REQUEST_TIMED_OUT past TimeoutMillis, which bounds the whole request.
//   - Partitions run concurrently, at most deleteRecordsParallel at a time;
//     the answer lists them in request order.
//   - Authorization: Delete on each topic, else TOPIC_AUTHORIZATION_FAILED for
//     its partitions.
//
// Version notes:
//   - v1: ThrottleMillis semantics
//   - v2: flexible versions

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(21, 0, 2, handleDeleteRecords) }

// deleteRecordsParallel bounds the partitions of one request whose Raft
// commands are in flight at once.
const deleteRecordsParallel = 8

func handleDeleteRecords(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	resp.Version = r.version
	ctx, cancel := adminContext(ctx, req.TimeoutMillis)
	defer cancel()

	var wg sync.WaitGroup
	sem := make(chan struct{}, deleteRecordsParallel)
	resp.Topics = make([]kmsg.DeleteRecordsResponseTopic, len(req.Topics))
	deletable := s.topicAuthorizer(r, acl.Delete)
	for i, rt := range req.Topics {
		t := &resp.Topics[i]
		*t = kmsg.NewDeleteRecordsResponseTopic()
		t.Topic = rt.Topic
		t.Partitions = make([]kmsg.DeleteRecordsResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			p := &t.Partitions[j]
			*p = kmsg.NewDeleteRecordsResponseTopicPartition()
			p.Partition = rp.Partition
			p.LowWatermark = -1
			if !deletable.ok(rt.Topic) {
				p.ErrorCode = kerr.TopicAuthorizationFailed.Code
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func(topic string, partition int32, offset int64) {
				defer func() { <-sem; wg.Done() }()
				start, err := s.be.DeleteRecords(ctx, topic, partition, offset)
				if err != nil {
					p.ErrorCode = errorCode(err)
					s.log.Debug("delete records", "topic", topic, "partition", partition, "offset", offset, "err", err)
					return
				}
				p.LowWatermark = start
				s.log.Info("deleted records", "topic", topic, "partition", partition, "log_start", start)
			}(rt.Topic, rp.Partition, rp.Offset)
		}
	}
	wg.Wait()
	return resp, nil
}
