package kafka

// Writing transaction markers for the transaction coordinator
// (coordinator.MarkerWriter). A marker goes through the local engine, which
// proposes it on the partition's leader replica or a follower replica here;
// for a partition this broker holds no replica of (the engine answers a
// *engine.NotLeaderError), it goes to the leader's broker as a
// WriteTxnMarkers request (27_write_txn_markers.go) over the inter-broker
// client (peers.go), as Kafka's TransactionMarkerChannelManager sends it.
// Unlike Kafka, markers are not batched per broker: each partition's marker
// is one request.
//
// Retries stay with the coordinator (coordinator/txn_markers.go): every
// failure is returned, and an error code the leader answers comes back as
// the engine error that code stands for, so that the coordinator acts as on
// the same local failure (NOT_LEADER_OR_FOLLOWER: retry, and the engine
// names the current leader next time; UNKNOWN_TOPIC_OR_PARTITION: give up,
// the partition is gone).

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/coordinator"
	"github.com/chronik-io/chronik/engine"
)

// markerWriter writes markers locally or through the partition leader's
// broker. Safe for concurrent use.
type markerWriter struct {
	be    backend
	peers *peers
}

var _ coordinator.MarkerWriter = (*markerWriter)(nil)

// WriteTxnMarker writes the marker through the local engine, or sends it to
// the leader's broker when this broker holds no replica of the partition.
func (w *markerWriter) WriteTxnMarker(ctx context.Context, topic string, partition int32, producerID int64, producerEpoch int16, commit bool, coordinatorEpoch int32) error {
	err := w.be.WriteTxnMarker(ctx, topic, partition, producerID, producerEpoch, commit, coordinatorEpoch)
	var nl *engine.NotLeaderError
	if !errors.As(err, &nl) || nl.Leader == 0 || nl.Leader == w.be.NodeID() {
		return err
	}
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = producerID, producerEpoch, commit, coordinatorEpoch
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = topic, []int32{partition}
	m.Topics = []kmsg.WriteTxnMarkersRequestMarkerTopic{mt}
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.Markers = []kmsg.WriteTxnMarkersRequestMarker{m}
	code, err := w.send(ctx, nl.Leader, topic, partition, req)
	if err != nil {
		return fmt.Errorf("topic %q partition %d: marker of producer %d to leader broker %d: %w", topic, partition, producerID, nl.Leader, err)
	}
	if code != 0 {
		return fmt.Errorf("topic %q partition %d: marker of producer %d: leader broker %d answered: %w", topic, partition, producerID, nl.Leader, remoteError(code))
	}
	return nil
}

// send sends a one-partition WriteTxnMarkers request to broker and returns
// the partition's error code.
func (w *markerWriter) send(ctx context.Context, broker uint64, topic string, partition int32, req *kmsg.WriteTxnMarkersRequest) (int16, error) {
	addr := ""
	for _, b := range w.be.Metadata(topic).Brokers {
		if b.ID == broker {
			addr = b.KafkaAddr
		}
	}
	if addr == "" {
		return 0, fmt.Errorf("broker %d has no Kafka address: %w", broker, engine.ErrNotReady)
	}
	resp, err := w.peers.request(ctx, broker, addr, req, handlers[req.Key()].max)
	if err != nil {
		return 0, err
	}
	for _, m := range resp.(*kmsg.WriteTxnMarkersResponse).Markers {
		for _, t := range m.Topics {
			for _, p := range t.Partitions {
				if t.Topic == topic && p.Partition == partition {
					return p.ErrorCode, nil
				}
			}
		}
	}
	return 0, errors.New("the response has no answer for the partition")
}
