package kafka

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// A byte flips in a sealed segment of a one-replica partition: Fetch of its
// offsets answers KAFKA_STORAGE_ERROR, and DescribeLogDirs reports the
// partition under a directory of its own with KAFKA_STORAGE_ERROR while the
// other partitions stay in the healthy data directory.
func TestQuarantinedPartitionErrors(t *testing.T) {
	const dir = "/var/lib/chronik"
	kc := newKafkaCluster(t, 1, Config{LogDir: dir}, testcluster.WithConfig(func(c *engine.Config) {
		c.SegmentCacheBytes = -1 // reads go to the files
	}))
	kc.CreateTopic(t, "flip", engine.TopicConfig{Partitions: 1, SegmentBytes: 2048, Compression: "none"})
	kc.CreateTopic(t, "fine", engine.TopicConfig{Partitions: 1})
	ctx := testCtx(t, time.Minute)
	cl := kc.client(t)
	for i := 0; i < 40; i++ {
		r := &kgo.Record{Topic: "flip", Value: []byte(strings.Repeat("v", 100) + strconv.Itoa(i))}
		if err := cl.ProduceSync(ctx, r, &kgo.Record{Topic: "fine", Value: []byte("ok")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	pdirs, _ := filepath.Glob(filepath.Join(kc.Config(1).DataDir, "partitions", "flip-0.*"))
	if len(pdirs) != 1 {
		t.Fatalf("partition dirs %v", pdirs)
	}
	logs, _ := filepath.Glob(filepath.Join(pdirs[0], "*.log"))
	slices.Sort(logs)
	if len(logs) < 3 {
		t.Fatalf("%d segments", len(logs))
	}
	b, err := os.ReadFile(logs[1])
	if err != nil {
		t.Fatal(err)
	}
	b[120] ^= 0x5a // inside the first frame's batches
	if err := os.WriteFile(logs[1], b, 0o644); err != nil {
		t.Fatal(err)
	}
	base, _ := strconv.ParseInt(strings.TrimSuffix(filepath.Base(logs[1]), ".log"), 10, 64)

	adm := kc.admin(t)
	td, err := adm.ListTopics(ctx, "flip")
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MaxBytes = 10, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = "flip", td["flip"].ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = 0, base, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl.Broker(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch response %+v", resp)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.KafkaStorageError.Code {
		t.Fatalf("fetch at %d: error %v, want KAFKA_STORAGE_ERROR", base, kerr.ErrorForCode(code))
	}

	deadline := time.Now().Add(5 * time.Second)
	for len(kc.Engine(1).QuarantinedReplicas()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	all, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	dirs := all[1]
	if d, ok := dirs[dir]; !ok || d.Err != nil {
		t.Fatalf("dirs %+v: want %s without error", dirs, dir)
	} else if _, ok := d.Topics.Lookup("flip", 0); ok {
		t.Fatalf("the quarantined partition is listed in the healthy directory")
	} else if _, ok := d.Topics.Lookup("fine", 0); !ok {
		t.Fatalf("the healthy partition is not listed: %+v", d)
	}
	bad, ok := dirs[dir+"/partitions/flip-0"]
	if !ok || bad.Err != kerr.KafkaStorageError {
		t.Fatalf("dirs %+v: want %s/partitions/flip-0 with KAFKA_STORAGE_ERROR", dirs, dir)
	}
	if _, ok := bad.Topics.Lookup("flip", 0); !ok {
		t.Fatalf("the failed directory does not name the partition: %+v", bad)
	}
}
