package kafka

// WriteTxnMarkers: v0-1
//
// Behaviour:
//   - A broker-to-broker request: a transaction coordinator whose broker
//     holds no replica of a partition of a transaction sends the partition's
//     commit or abort marker to its leader (txn_marker_writer.go). Each
//     partition's marker is written by the engine's WriteTxnMarker with the
//     marker's producer id and epoch and coordinator epoch, and answered once
//     it is committed. The partitions of one request are written in
//     parallel, at most maxParallelMarkers at a time.
//   - Per-partition errors through the engine error table (errors.go):
//     NOT_LEADER_OR_FOLLOWER (this broker holds no replica; the coordinator
//     looks the leader up again and retries), LEADER_NOT_AVAILABLE,
//     UNKNOWN_TOPIC_OR_PARTITION, INVALID_PRODUCER_EPOCH (older than the
//     producer's epoch on the partition), TRANSACTION_COORDINATOR_FENCED (a
//     coordinator epoch older than the partition's last), INVALID_RECORD (a
//     negative producer id or epoch), REQUEST_TIMED_OUT (the marker may
//     still be written), KAFKA_STORAGE_ERROR.
//   - Unlike Kafka, a broker holding a follower replica writes the marker
//     through it (Raft forwards the proposal to the leader) rather than
//     answering NOT_LEADER_OR_FOLLOWER, as the engine does for its own
//     coordinator.
//   - No CLUSTER_ACTION authorization: the inter-broker client carries no
//     credentials of its own (as for the share state APIs 84 and 85). A commit marker
//     on __consumer_offsets completes no transactional offset commits:
//     TxnOffsetCommit is not served.
//
// Version notes:
//   - v1: flexible versions
//   - v2 (TransactionVersion, KIP-1228) is not served.

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(27, 0, 1, handleWriteTxnMarkers) }

// maxParallelMarkers bounds the partitions of one WriteTxnMarkers request
// whose markers are written at the same time.
const maxParallelMarkers = 16

func handleWriteTxnMarkers(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.WriteTxnMarkersRequest)
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	resp.Version = r.version
	// The response mirrors the request, so every partition has its own slot
	// that one goroutine fills.
	resp.Markers = make([]kmsg.WriteTxnMarkersResponseMarker, len(req.Markers))
	for i, m := range req.Markers {
		rm := &resp.Markers[i]
		rm.Default()
		rm.ProducerID = m.ProducerID
		rm.Topics = make([]kmsg.WriteTxnMarkersResponseMarkerTopic, len(m.Topics))
		for j, t := range m.Topics {
			rt := &rm.Topics[j]
			rt.Default()
			rt.Topic = t.Topic
			rt.Partitions = make([]kmsg.WriteTxnMarkersResponseMarkerTopicPartition, len(t.Partitions))
		}
	}
	sem := make(chan struct{}, maxParallelMarkers)
	var wg sync.WaitGroup
	for i, m := range req.Markers {
		for j, t := range m.Topics {
			for k, p := range t.Partitions {
				slot := &resp.Markers[i].Topics[j].Partitions[k]
				slot.Default()
				slot.Partition = p
				sem <- struct{}{}
				wg.Add(1)
				go func() {
					defer func() { <-sem; wg.Done() }()
					err := s.be.WriteTxnMarker(ctx, t.Topic, p, m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch)
					if err != nil {
						s.log.Debug("transaction marker not written", "topic", t.Topic, "partition", p,
							"producer_id", m.ProducerID, "producer_epoch", m.ProducerEpoch, "commit", m.Committed, "err", err)
					}
					slot.ErrorCode = errorCode(err)
				}()
			}
		}
	}
	wg.Wait()
	return resp, nil
}
