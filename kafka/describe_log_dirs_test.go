package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// DescribeLogDirs through kadm: one directory per broker, the configured
// LogDir, listing the local replicas of every topic (or of the asked ones)
// with their size on disk, and the file system's free space.
func TestDescribeLogDirs(t *testing.T) {
	const dir = "/var/lib/chronik"
	kc := newKafkaCluster(t, 1, Config{LogDir: dir})
	kc.CreateTopic(t, "ld", engine.TopicConfig{Partitions: 2})
	kc.CreateTopic(t, "ld-other", engine.TopicConfig{Partitions: 1})
	adm := kc.admin(t)
	ctx := testCtx(t, time.Minute)
	cl := kc.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for _, r := range []*kgo.Record{{Topic: "ld", Partition: 0}, {Topic: "ld", Partition: 1}, {Topic: "ld-other", Partition: 0}} {
		r.Value = []byte("some bytes on disk")
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce to %s/%d: %v", r.Topic, r.Partition, err)
		}
	}

	all, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	dirs := all[1]
	if len(all) != 1 || len(dirs) != 1 {
		t.Fatalf("described %d brokers, broker 1 with %d dirs: %+v; want one broker with one dir", len(all), len(dirs), all)
	}
	d, ok := dirs[dir]
	if !ok || d.Err != nil {
		t.Fatalf("dirs %+v, want %s without error", dirs, dir)
	}
	if d.TotalBytes != -1 || d.UsableBytes <= 0 {
		t.Errorf("total %d, usable %d bytes; want -1 and the free space", d.TotalBytes, d.UsableBytes)
	}
	for _, tp := range []struct {
		topic     string
		partition int32
	}{{"ld", 0}, {"ld", 1}, {"ld-other", 0}} {
		p, ok := d.Topics.Lookup(tp.topic, tp.partition)
		if !ok || p.Size <= 0 || p.OffsetLag != 0 || p.IsFuture || p.Dir != dir || p.Broker != 1 {
			t.Errorf("%s/%d: %+v (listed %v), want a size > 0 in %s on broker 1", tp.topic, tp.partition, p, ok, dir)
		}
	}

	// Only the asked partitions; unknown ones are left out.
	var ask kadm.TopicsSet
	ask.Add("ld", 1, 9)
	ask.Add("missing", 0)
	one, err := adm.DescribeBrokerLogDirs(ctx, 1, ask)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]int32{}
	one.EachPartition(func(p kadm.DescribedLogDirPartition) { got[p.Topic] = append(got[p.Topic], p.Partition) })
	if len(got) != 1 || len(got["ld"]) != 1 || got["ld"][0] != 1 {
		t.Errorf("asked for ld/1, ld/9, missing/0: listed %v, want ld/1 only", got)
	}
}

// Every version answers, and an unset LogDir is reported as "data".
func TestDescribeLogDirsVersions(t *testing.T) {
	_, addr := serve(t, &stubBackend{}, Config{})
	rc := dialRaw(t, addr)
	for v := int16(1); v <= 4; v++ {
		req := kmsg.NewPtrDescribeLogDirsRequest()
		req.Version = v
		resp := roundTrip[*kmsg.DescribeLogDirsResponse](rc, req)
		if resp.ErrorCode != 0 || len(resp.Dirs) != 1 || resp.Dirs[0].Dir != "data" || resp.Dirs[0].ErrorCode != 0 || len(resp.Dirs[0].Topics) != 0 {
			t.Errorf("v%d: %+v, want one empty dir named data", v, resp)
		}
		if v >= 4 && (resp.Dirs[0].TotalBytes != -1 || resp.Dirs[0].UsableBytes != -1) {
			t.Errorf("v%d: total %d, usable %d bytes; want -1, -1 (unknown)", v, resp.Dirs[0].TotalBytes, resp.Dirs[0].UsableBytes)
		}
	}
}
