package kafka

import (
	"strconv"
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

// BenchmarkGroupLoad: a new coordinator replays a __consumer_offsets
// partition of 10,000 offset records (1,000 groups x 10 partitions) before
// it answers; reported as load-ms.
func BenchmarkGroupLoad(b *testing.B) {
	kc := newKafkaCluster(b, 1, Config{Logger: discardLogger(), Groups: groupTestConfig().Groups})
	kc.CreateTopic(b, "t", engine.TopicConfig{Partitions: 10})
	rc := dialRaw(b, kc.addrs[1])
	commitStandaloneB(b, rc, "g0", 0)
	s := kc.servers[1]
	cp, e := s.groups.partitionOf("g0")
	if e != nil {
		b.Fatal(e)
	}
	var recs []engine.Record
	for g, n := 0, 0; n < 1000; g++ {
		name := "g" + strconv.Itoa(g)
		if groupPartition(name, 4) != cp.p {
			continue
		}
		n++
		for p := range 10 {
			recs = append(recs, offsetRecord(name, "t", int32(p), &offsetCommit{offset: int64(g), committed: time.Now()}))
		}
		if len(recs) >= 2000 {
			if err := cp.write(recs...); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	if len(recs) > 0 {
		if err := cp.write(recs...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		// A fresh partition state replays the log (load marker, read,
		// decode, rebuild), as a new leader does.
		fresh := &coordPartition{c: s.groups, p: cp.p, epoch: cp.epoch, ctx: cp.ctx, cancel: func() {},
			loaded: make(chan struct{}), groups: map[string]*group{}, live: map[string][]byte{}}
		st, err := fresh.replay()
		if err != nil || st.records < 10000 {
			b.Fatalf("replayed %d records: %v", st.records, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "load-ms")
}
