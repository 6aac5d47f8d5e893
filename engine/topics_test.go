package engine_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// TestTopicsRetentionMetadata: metadata on every broker, including
// partitions it does not host; replicated retention by bytes; delete topic
// removes the replicas' files everywhere.
func TestTopicsRetentionMetadata(t *testing.T) {
	c := testcluster.New(t, 3)
	c.CreateTopic(t, "spread", engine.TopicConfig{Partitions: 3, ReplicationFactor: 1})
	c.CreateTopic(t, "ret", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3, SegmentBytes: 2048, RetentionBytes: 5000})

	// Every broker answers Metadata for every partition, hosted or not.
	for i := 1; i <= 3; i++ {
		md := c.Engine(i).Metadata()
		if md.ClusterID == "" || md.ControllerID == 0 || len(md.Brokers) != 3 || len(md.Topics) != 2 {
			t.Fatalf("engine %d metadata: %+v", i, md)
		}
		leaders := map[uint64]bool{}
		for _, p := range md.Topics[1].Partitions { // "spread", sorted by name
			if p.Leader == 0 || len(p.Replicas) != 1 || p.Leader != p.Replicas[0] {
				t.Fatalf("engine %d: spread/%d: %+v", i, p.Partition, p)
			}
			leaders[p.Leader] = true
		}
		if len(leaders) != 3 {
			t.Fatalf("engine %d: RF=1 partitions not spread over the brokers: %v", i, leaders)
		}
		if md.ClusterID != c.Engine(1).ClusterID() {
			t.Fatal("cluster ids differ")
		}
	}
	// A broker that does not host a partition says who does.
	md := c.Engine(1).Metadata()
	for _, p := range md.Topics[1].Partitions {
		if p.Leader == 1 {
			continue
		}
		_, err := c.Engine(1).Fetch(ctxT(t, 5*time.Second), "spread", p.Partition, 0, engine.FetchOptions{})
		var nl *engine.NotLeaderError
		if !errors.As(err, &nl) || nl.Leader != p.Leader {
			t.Fatalf("fetch spread/%d on broker 1: %v, want NotLeader(%d)", p.Partition, err, p.Leader)
		}
	}

	// Retention by bytes: segments roll at 4 KiB and the start moves on
	// every replica, but not on a compacted topic.
	c.CreateTopic(t, "kept", engine.TopicConfig{Partitions: 1, ReplicationFactor: 1, SegmentBytes: 2048, RetentionBytes: 5000, CleanupPolicy: "compact"})
	for i := 0; i < 60; i++ {
		produceLeader(t, c, "kept", 0, records(fmt.Sprintf("k%03d", i), 20))
	}
	for i := 0; i < 60; i++ {
		produceLeader(t, c, "ret", 0, records(fmt.Sprintf("r%03d", i), 20))
	}
	waitReplicasCaughtUp(t, c, "ret", 0, 1200)
	deadline := time.Now().Add(10 * time.Second)
	for {
		moved := 0
		for i := 1; i <= 3; i++ {
			st, err := c.Engine(i).PartitionStats("ret", 0)
			if err != nil {
				t.Fatal(err)
			}
			if st.LogStartOffset > 0 && st.SizeBytes <= 5000+4096 {
				moved++
			}
		}
		if moved == 3 {
			break
		}
		if time.Now().After(deadline) {
			st, _ := c.Engine(1).PartitionStats("ret", 0)
			t.Fatalf("retention did not move the log start on every replica: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	kl := c.WaitLeader(t, "kept", 0, 5*time.Second)
	if st, err := c.Engine(kl).PartitionStats("kept", 0); err != nil || st.LogStartOffset != 0 || st.Segments < 3 {
		t.Fatalf("compacted topic after the retention checks: %+v, %v; want log start 0 and every segment", st, err)
	}
	l := c.WaitLeader(t, "ret", 0, 5*time.Second)
	lo, err := c.Engine(l).ListOffsets(ctxT(t, 5*time.Second), "ret", 0, engine.Earliest)
	if err != nil || lo.Offset <= 0 {
		t.Fatalf("earliest after retention: %+v %v", lo, err)
	}
	if _, err := c.Engine(l).Fetch(ctxT(t, 5*time.Second), "ret", 0, 0, engine.FetchOptions{}); !errors.Is(err, engine.ErrOffsetOutOfRange) {
		t.Fatalf("fetch below the log start: %v", err)
	}
	recs := fetchAll(t, c.Engine(l), "ret", 0)
	if len(recs) == 0 || recs[0].Offset != lo.Offset || recs[len(recs)-1].Offset != 1199 {
		t.Fatalf("after retention: %d records from %d", len(recs), lo.Offset)
	}

	// Delete: gone from metadata everywhere, files removed.
	if err := c.Engine(2).DeleteTopic(ctxT(t, 5*time.Second), "ret"); err != nil {
		t.Fatal(err)
	}
	if err := c.Engine(2).DeleteTopic(ctxT(t, 5*time.Second), "ret"); !errors.Is(err, engine.ErrUnknownTopic) {
		t.Fatalf("second delete: %v", err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		left := 0
		for i := 1; i <= 3; i++ {
			dirs, _ := filepath.Glob(filepath.Join(c.Config(i).DataDir, "partitions", "ret-0.*"))
			left += len(dirs)
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d replica directories of a deleted topic remain", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := c.Engine(1).ProduceBatch(ctxT(t, 5*time.Second), "ret", 0, engine.EncodeBatch(records("x", 1), time.Now())); !errors.Is(err, engine.ErrUnknownTopic) {
		t.Fatalf("produce to a deleted topic: %v", err)
	}
	// Re-creating the name gives a new topic (new id, new shard).
	c.CreateTopic(t, "ret", engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
	res := produceLeader(t, c, "ret", 0, records("new", 1))
	if res.BaseOffset != 0 {
		t.Fatalf("re-created topic starts at %d", res.BaseOffset)
	}
}

func TestParseTopicConfigs(t *testing.T) {
	tests := []struct {
		in      map[string]string
		want    engine.TopicConfig
		wantErr bool
	}{
		{nil, engine.TopicConfig{}, false},
		{map[string]string{"retention.ms": "-1", "retention.bytes": "1000", "segment.bytes": "1048576", "segment.ms": "60000",
			"max.message.bytes": "2048", "cleanup.policy": "compact", "message.timestamp.type": "LogAppendTime", "compression.type": "s2"},
			engine.TopicConfig{RetentionMs: -1, RetentionBytes: 1000, SegmentBytes: 1 << 20, SegmentMs: 60000, MaxMessageBytes: 2048,
				CleanupPolicy: "compact", MessageTimestampType: "LogAppendTime", Compression: "s2"}, false},
		{map[string]string{"retention.ms": "soon"}, engine.TopicConfig{}, true},
		{map[string]string{"segment.bytes": "10"}, engine.TopicConfig{}, true},
		{map[string]string{"no.such.config": "1"}, engine.TopicConfig{}, true},
		{map[string]string{"cleanup.policy": "forever"}, engine.TopicConfig{}, true},
		{map[string]string{"max.message.bytes": "33554432"}, engine.TopicConfig{MaxMessageBytes: 32 << 20}, false},
		{map[string]string{"max.message.bytes": "33554433"}, engine.TopicConfig{}, true}, // over one Raft entry's limit
	}
	for _, tt := range tests {
		got, err := engine.ParseTopicConfigs(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("ParseTopicConfigs(%v) = %+v, %v", tt.in, got, err)
		}
		if err != nil && !errors.Is(err, engine.ErrInvalidConfig) {
			t.Errorf("error %v does not wrap ErrInvalidConfig", err)
		}
		if err == nil {
			back, err := engine.ParseTopicConfigs(got.Map())
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Errorf("Map round trip: %+v -> %+v, %v", got, back, err)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := engine.DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	bad := engine.Config{NodeID: 0, RaftAddr: "nope", Peers: map[uint64]string{2: "127.0.0.1:1", 3: "127.0.0.1:1"},
		ElectionTicks: 2, HeartbeatTicks: 2, LogDB: "rocks", DefaultPartitions: -1}
	err := bad.Validate()
	if !errors.Is(err, engine.ErrInvalidConfig) {
		t.Fatalf("bad config: %v", err)
	}
	for _, field := range []string{"NodeID", "DataDir", "RaftAddr", "Peers", "share address", "DefaultPartitions", "ElectionTicks", "LogDB"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not mention %s: %v", field, err)
		}
	}
}

// TestDeleteWhileDownAndLeaderSpread: a broker that was down while a topic
// was deleted removes its replica's files when it comes back; the leaders
// of a new RF=3 topic spread over the brokers.
func TestDeleteWhileDownAndLeaderSpread(t *testing.T) {
	c := testcluster.New(t, 3)
	c.CreateTopic(t, "spread3", engine.TopicConfig{Partitions: 3, ReplicationFactor: 3})
	deadline := time.Now().Add(10 * time.Second)
	for {
		leaders := map[int]bool{}
		for p := int32(0); p < 3; p++ {
			leaders[c.Leader("spread3", p)] = true
		}
		if len(leaders) == 3 && !leaders[0] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leaders of an RF=3 topic did not spread: %v", leaders)
		}
		time.Sleep(50 * time.Millisecond)
	}
	produceLeader(t, c, "spread3", 0, records("x", 10))
	c.Stop(3)
	if err := c.Engine(1).DeleteTopic(ctxT(t, 5*time.Second), "spread3"); err != nil {
		t.Fatal(err)
	}
	dirs := func() []string {
		d, _ := filepath.Glob(filepath.Join(c.Config(3).DataDir, "partitions", "spread3-*"))
		return d
	}
	if len(dirs()) != 3 {
		t.Fatalf("stopped broker has %v", dirs())
	}
	c.Restart(3)
	deadline = time.Now().Add(10 * time.Second)
	for len(dirs()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("orphaned replicas remain: %v", dirs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCreateTopicSettlesLeaders: CreateTopic returns once every partition
// is led by its preferred replica, so a client that reads Metadata right
// after creating a topic writes to leaders that stay put (a move after it
// learned them cost franz-go a 5 s metadata wait on its first produce).
func TestCreateTopicSettlesLeaders(t *testing.T) {
	c := testcluster.New(t, 3)
	for round := 0; round < 3; round++ {
		name := fmt.Sprintf("settled-%d", round)
		c.CreateTopic(t, name, engine.TopicConfig{Partitions: 8, ReplicationFactor: 3})
		md := c.Engine(c.Running()[0]).Metadata(name)
		if len(md.Topics) != 1 || len(md.Topics[0].Partitions) != 8 {
			t.Fatalf("metadata of %s: %+v", name, md.Topics)
		}
		for _, p := range md.Topics[0].Partitions {
			if p.Leader != p.PreferredLeader {
				t.Errorf("%s/%d: leader %d right after CreateTopic, preferred %d", name, p.Partition, p.Leader, p.PreferredLeader)
			}
			if l := c.Leader(name, p.Partition); uint64(l) != p.PreferredLeader {
				t.Errorf("%s/%d: broker %d leads, preferred %d", name, p.Partition, l, p.PreferredLeader)
			}
		}
	}
}
