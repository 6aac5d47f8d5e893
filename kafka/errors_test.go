package kafka

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

func TestErrorCode(t *testing.T) {
	cases := []struct {
		err  error
		want *kerr.Error
	}{
		{&engine.NotLeaderError{Leader: 2, Epoch: 5}, kerr.NotLeaderForPartition},
		{fmt.Errorf("shard 9: %w", engine.ErrNotLeader), kerr.NotLeaderForPartition},
		{engine.ErrNotReady, kerr.LeaderNotAvailable},
		{engine.ErrUnknownTopic, kerr.UnknownTopicOrPartition},
		{engine.ErrUnknownPartition, kerr.UnknownTopicOrPartition},
		{engine.ErrTopicExists, kerr.TopicAlreadyExists},
		{engine.ErrInvalidTopic, kerr.InvalidTopicException},
		{engine.ErrInvalidPartitions, kerr.InvalidPartitions},
		{engine.ErrInvalidReplicationFactor, kerr.InvalidReplicationFactor},
		{engine.ErrInvalidConfig, kerr.InvalidConfig},
		{engine.ErrOffsetOutOfRange, kerr.OffsetOutOfRange},
		{engine.ErrTimeout, kerr.RequestTimedOut},
		{context.DeadlineExceeded, kerr.RequestTimedOut},
		{engine.ErrCorruptBatch, kerr.CorruptMessage},
		{engine.ErrRecordTooLarge, kerr.MessageTooLarge},
		{engine.ErrInvalidRecord, kerr.InvalidRecord},
		{engine.ErrDuplicateSequence, kerr.DuplicateSequenceNumber},
		{engine.ErrOutOfOrderSequence, kerr.OutOfOrderSequenceNumber},
		{engine.ErrInvalidProducerEpoch, kerr.InvalidProducerEpoch},
		{engine.ErrStorage, kerr.KafkaStorageError},
		{engine.ErrClosed, kerr.NotLeaderForPartition},
		{errors.New("disk on fire"), kerr.UnknownServerError},
	}
	for _, tc := range cases {
		if got := errorCode(tc.err); got != tc.want.Code {
			t.Errorf("errorCode(%v) = %d (%v), want %s", tc.err, got, kerr.ErrorForCode(got), tc.want.Message)
		}
	}
	if errorCode(nil) != 0 {
		t.Errorf("errorCode(nil) != 0")
	}
}

// The controller requests answer NOT_CONTROLLER for a leadership error of
// __meta, which admin clients retry, and the usual code for the rest.
func TestControllerErrorCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want *kerr.Error
	}{
		{fmt.Errorf("__meta create-topic: %w", engine.ErrNotLeader), kerr.NotController},
		{fmt.Errorf("__meta create-topic: %w", engine.ErrNotReady), kerr.NotController},
		{engine.ErrClosed, kerr.NotController},
		{context.Canceled, kerr.NotController},
		{engine.ErrTopicExists, kerr.TopicAlreadyExists},
		{engine.ErrTimeout, kerr.RequestTimedOut},
		{engine.ErrInvalidPartitions, kerr.InvalidPartitions},
	} {
		if got := controllerErrorCode(tc.err); got != tc.want.Code {
			t.Errorf("controllerErrorCode(%v) = %v, want %s", tc.err, kerr.ErrorForCode(got), tc.want.Message)
		}
	}
}

// Produce and Fetch on a follower answer NOT_LEADER_OR_FOLLOWER with the
// leader hint and the leader's endpoint.
func TestNotLeaderHint(t *testing.T) {
	be := &stubBackend{err: fmt.Errorf("partition t/0: %w", &engine.NotLeaderError{Leader: 1, Epoch: 7})}
	_, addr := serve(t, be, Config{})
	be.addr = "127.0.0.1:19092"
	rc := dialRaw(t, addr)

	pr := kmsg.NewPtrProduceRequest()
	pr.Version = 11
	pr.Acks = -1
	pr.TimeoutMillis = 1000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "t"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = []byte{1, 2, 3}
	pt.Partitions = append(pt.Partitions, pp)
	pr.Topics = append(pr.Topics, pt)
	presp := roundTrip[*kmsg.ProduceResponse](rc, pr)
	p := presp.Topics[0].Partitions[0]
	if p.ErrorCode != kerr.NotLeaderForPartition.Code || p.CurrentLeader.LeaderID != 1 || p.CurrentLeader.LeaderEpoch != 7 {
		t.Fatalf("produce: error %d, leader %+v", p.ErrorCode, p.CurrentLeader)
	}
	if len(presp.Brokers) != 1 || presp.Brokers[0].NodeID != 1 || presp.Brokers[0].Port != 19092 {
		t.Fatalf("produce: node endpoints %+v", presp.Brokers)
	}

	fr := kmsg.NewPtrFetchRequest()
	fr.Version = 12
	fr.MaxWaitMillis = 10
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "t"
	ft.Partitions = append(ft.Partitions, kmsg.NewFetchRequestTopicPartition())
	fr.Topics = append(fr.Topics, ft)
	fresp := roundTrip[*kmsg.FetchResponse](rc, fr)
	fp := fresp.Topics[0].Partitions[0]
	if fp.ErrorCode != kerr.NotLeaderForPartition.Code || fp.CurrentLeader.LeaderID != 1 || fp.CurrentLeader.LeaderEpoch != 7 {
		t.Fatalf("fetch: error %d, leader %+v", fp.ErrorCode, fp.CurrentLeader)
	}
}

// acks=0 writes nothing; a failed acks=0 produce closes the connection.
func TestAcksZero(t *testing.T) {
	be := &stubBackend{}
	_, addr := serve(t, be, Config{})
	rc := dialRaw(t, addr)
	pr := kmsg.NewPtrProduceRequest()
	pr.Version = 9
	pr.Acks = 0
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "t"
	pt.Partitions = append(pt.Partitions, kmsg.NewProduceRequestTopicPartition())
	pr.Topics = append(pr.Topics, pt)
	rc.send(pr)
	// The next response on the wire must be the ApiVersions one.
	av := kmsg.NewPtrApiVersionsRequest()
	if r := roundTrip[*kmsg.ApiVersionsResponse](rc, av); r.ErrorCode != 0 {
		t.Fatalf("ApiVersions error %d", r.ErrorCode)
	}
	_, failing := serve(t, &stubBackend{err: engine.ErrUnknownTopic}, Config{})
	rc = dialRaw(t, failing)
	rc.send(pr)
	rc.expectClosed()
}
