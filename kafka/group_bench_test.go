package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// BenchmarkOffsetCommit: one OffsetCommit of one partition, answered once
// written through Raft to __consumer_offsets (one-node cluster).
func BenchmarkOffsetCommit(b *testing.B) {
	kc := newKafkaCluster(b, 1, Config{Logger: discardLogger(), Groups: groupTestConfig().Groups})
	kc.CreateTopic(b, "t", engine.TopicConfig{Partitions: 1})
	rc := dialRaw(b, kc.addrs[1])
	commitStandaloneB(b, rc, "bench", 0)
	b.ResetTimer()
	for i := range b.N {
		commitStandaloneB(b, rc, "bench", int64(i))
	}
}

func commitStandaloneB(b *testing.B, rc *rawConn, group string, off int64) {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.SetVersion(8)
	r.Group, r.Generation = group, -1
	r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: off}}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code := roundTrip[*kmsg.OffsetCommitResponse](rc, r).Topics[0].Partitions[0].ErrorCode
		if code == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("commit: code %d", code)
		}
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorKey = group
		roundTrip[*kmsg.FindCoordinatorResponse](rc, fc)
		time.Sleep(50 * time.Millisecond)
	}
}
