package kafka

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/coordinator"
	"github.com/chronik-io/chronik/engine"
)

// markerBackend is an engine backend that records transaction markers
// instead of writing them (the engine's WriteTxnMarker is wired at merge).
type markerBackend struct {
	engineBackend
	mu      sync.Mutex
	markers []string
}

func (b *markerBackend) WriteTxnMarker(_ context.Context, topic string, partition int32, _ int64, _ int16, commit bool, _ int32) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.markers = append(b.markers, topic+map[bool]string{true: ":commit", false: ":abort"}[commit])
	return nil
}

func (b *markerBackend) written() int { b.mu.Lock(); defer b.mu.Unlock(); return len(b.markers) }

var _ coordinator.MarkerWriter = (*markerBackend)(nil)

// TestTxnErrorCodes drives the transaction APIs with raw requests against
// a one-node server.
func TestTxnErrorCodes(t *testing.T) {
	var mb *markerBackend
	cfg := groupTestConfig()
	cfg.Txns = TxnConfig{TopicPartitions: 2, MaxTimeout: time.Minute}
	kc := newKafkaClusterWith(t, 1, cfg, func(_ int, be backend) backend {
		mb = &markerBackend{engineBackend: be.(engineBackend)}
		return mb
	})
	kc.CreateTopic(t, "data", engine.TopicConfig{Partitions: 2})
	rc := dialRaw(t, kc.addrs[1])
	const id = "tx-kafka"

	deadline := time.Now().Add(30 * time.Second)
	for {
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.SetVersion(4)
		fc.CoordinatorType = 1
		fc.CoordinatorKeys = []string{id}
		c := roundTrip[*kmsg.FindCoordinatorResponse](rc, fc).Coordinators[0]
		if c.ErrorCode == 0 {
			if c.NodeID != 1 {
				t.Fatalf("coordinator %d, want 1", c.NodeID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("FindCoordinator(txn): %v", kerr.ErrorForCode(c.ErrorCode))
		}
		time.Sleep(50 * time.Millisecond)
	}
	initPID := func(timeout int32, pid int64, epoch int16) *kmsg.InitProducerIDResponse {
		r := kmsg.NewPtrInitProducerIDRequest()
		r.SetVersion(4)
		r.TransactionalID, r.TransactionTimeoutMillis, r.ProducerID, r.ProducerEpoch = kmsg.StringPtr(id), timeout, pid, epoch
		return roundTrip[*kmsg.InitProducerIDResponse](rc, r)
	}
	var ip *kmsg.InitProducerIDResponse
	for { // the partition loads after FindCoordinator
		ip = initPID(10000, -1, -1)
		if ip.ErrorCode != kerr.CoordinatorLoadInProgress.Code && ip.ErrorCode != kerr.NotCoordinator.Code {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("InitProducerID: %v", kerr.ErrorForCode(ip.ErrorCode))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ip.ErrorCode != 0 || ip.ProducerEpoch != 0 {
		t.Fatalf("InitProducerID: %v epoch %d", kerr.ErrorForCode(ip.ErrorCode), ip.ProducerEpoch)
	}
	pid := ip.ProducerID
	if code := initPID(int32(2*time.Minute/time.Millisecond), -1, -1).ErrorCode; code != kerr.InvalidTransactionTimeout.Code {
		t.Fatalf("timeout above max: %v", kerr.ErrorForCode(code))
	}
	if ip := initPID(10000, pid, 0); ip.ErrorCode != 0 || ip.ProducerID != pid || ip.ProducerEpoch != 1 {
		t.Fatalf("second InitProducerID: %v %d/%d", kerr.ErrorForCode(ip.ErrorCode), ip.ProducerID, ip.ProducerEpoch)
	}

	endTxn := func(version int16, txnID string, epoch int16, commit bool) int16 {
		r := kmsg.NewPtrEndTxnRequest()
		r.SetVersion(version)
		r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit = txnID, pid, epoch, commit
		return roundTrip[*kmsg.EndTxnResponse](rc, r).ErrorCode
	}
	addParts := func(version int16, epoch int16, topic string) []int16 {
		r := kmsg.NewPtrAddPartitionsToTxnRequest()
		r.SetVersion(version)
		r.TransactionalID, r.ProducerID, r.ProducerEpoch = id, pid, epoch
		r.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: topic, Partitions: []int32{0, 1}}}
		var codes []int16
		for _, rt := range roundTrip[*kmsg.AddPartitionsToTxnResponse](rc, r).Topics {
			for _, p := range rt.Partitions {
				codes = append(codes, p.ErrorCode)
			}
		}
		return codes
	}
	want := func(what string, got, want int16) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: %v, want %v", what, kerr.ErrorForCode(got), kerr.ErrorForCode(want))
		}
	}
	want("EndTxn without a transaction", endTxn(3, id, 1, true), kerr.InvalidTxnState.Code)
	want("EndTxn of an unknown id", endTxn(3, "nobody", 0, true), kerr.InvalidProducerIDMapping.Code)
	want("AddPartitionsToTxn v3 fenced", addParts(3, 0, "data")[0], kerr.ProducerFenced.Code)
	want("AddPartitionsToTxn v1 fenced", addParts(1, 0, "data")[0], kerr.InvalidProducerEpoch.Code)
	want("AddPartitionsToTxn unknown topic", addParts(3, 1, "nope")[0], kerr.UnknownTopicOrPartition.Code)
	for _, code := range addParts(3, 1, "data") {
		want("AddPartitionsToTxn", code, 0)
	}

	// v4: batched, verify only.
	waitCoordinator(t, rc, "g") // creates __consumer_offsets
	vr := kmsg.NewPtrAddPartitionsToTxnRequest()
	vr.SetVersion(4)
	vr.Transactions = []kmsg.AddPartitionsToTxnRequestTransaction{{TransactionalID: id, ProducerID: pid, ProducerEpoch: 1,
		VerifyOnly: true, Topics: []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: OffsetsTopic, Partitions: []int32{0}}, {Topic: "data", Partitions: []int32{1}}}}}
	vresp := roundTrip[*kmsg.AddPartitionsToTxnResponse](rc, vr)
	if len(vresp.Transactions) != 1 || len(vresp.Transactions[0].Topics) != 2 {
		t.Fatalf("verify: %+v", vresp)
	}
	for _, rt := range vresp.Transactions[0].Topics {
		w := int16(0)
		if rt.Topic == OffsetsTopic {
			w = kerr.InvalidTxnState.Code
		}
		want("verify "+rt.Topic, rt.Partitions[0].ErrorCode, w)
	}

	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.SetVersion(3)
	ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = id, pid, 1, "g"
	want("AddOffsetsToTxn", roundTrip[*kmsg.AddOffsetsToTxnResponse](rc, ao).ErrorCode, 0)

	want("EndTxn v1 fenced", endTxn(1, id, 0, true), kerr.InvalidProducerEpoch.Code)
	want("EndTxn commit", endTxn(3, id, 1, true), 0)
	for mb.written() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d markers written, want 3", mb.written())
		}
		time.Sleep(10 * time.Millisecond)
	}
	want("EndTxn abort after commit", endTxn(3, id, 1, false), kerr.InvalidTxnState.Code)
}
