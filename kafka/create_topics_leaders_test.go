package kafka

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// lateLeaderBackend creates a topic whose partitions this broker's Metadata
// reports without a leader for a while after CreateTopic returned, as a
// broker does while its own leader tracking catches up with __meta.
type lateLeaderBackend struct {
	stubBackend
	mu      sync.Mutex
	topic   string
	ledFrom time.Time
}

func (b *lateLeaderBackend) CreateTopic(_ context.Context, name string, _ engine.TopicConfig) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.topic, b.ledFrom = name, time.Now().Add(300*time.Millisecond)
	return nil
}

func (b *lateLeaderBackend) Metadata(...string) engine.Metadata {
	md := b.stubBackend.Metadata()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.topic == "" {
		return md
	}
	var leader uint64
	if !time.Now().Before(b.ledFrom) {
		leader = 1
	}
	ti := engine.TopicInfo{Name: b.topic, Config: engine.TopicConfig{Partitions: 2, ReplicationFactor: 1}}
	for p := range int32(2) {
		ti.Partitions = append(ti.Partitions, engine.PartitionInfo{Partition: p, Leader: leader, Replicas: []uint64{1}, ISR: []uint64{1}})
	}
	md.Topics = []engine.TopicInfo{ti}
	return md
}

// TestCreateTopicsWaitsForLeadersInMetadata: once CreateTopics answers, this
// broker's Metadata shows a leader for every partition (Kafka's CreateTopics
// waits for the leaders in the handling broker's metadata cache). Clients
// produce right after creating; kafka-go's Writer caches a
// LEADER_NOT_AVAILABLE answer for seconds and fails the write.
func TestCreateTopicsWaitsForLeadersInMetadata(t *testing.T) {
	be := &lateLeaderBackend{}
	_, addr := serve(t, be, Config{})
	be.addr = addr
	rc := dialRaw(t, addr)

	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.TimeoutMillis = 5000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "late", 2, 1
	req.Topics = append(req.Topics, rt)
	ct := roundTrip[*kmsg.CreateTopicsResponse](rc, req)
	if len(ct.Topics) != 1 || ct.Topics[0].ErrorCode != 0 {
		t.Fatalf("CreateTopics: %+v", ct.Topics)
	}

	mreq := kmsg.NewPtrMetadataRequest()
	mreq.Version = 12
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("late")
	mreq.Topics = append(mreq.Topics, mt)
	md := roundTrip[*kmsg.MetadataResponse](rc, mreq)
	if len(md.Topics) != 1 || len(md.Topics[0].Partitions) != 2 {
		t.Fatalf("Metadata: %+v", md.Topics)
	}
	for _, p := range md.Topics[0].Partitions {
		if p.ErrorCode != 0 || p.Leader != 1 {
			t.Errorf("partition %d right after CreateTopics: leader %d, error %d; want leader 1", p.Partition, p.Leader, p.ErrorCode)
		}
	}
}
