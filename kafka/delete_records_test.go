package kafka

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// DeleteRecords through kadm: the answered low watermarks become the log
// start offsets that ListOffsets reports, a consumer from the start (or from
// a deleted offset) sees only what is left, a Fetch below the start answers
// OFFSET_OUT_OF_RANGE, and bad requests get their error codes at every
// version.
func TestDeleteRecords(t *testing.T) {
	kc := newKafkaCluster(t, 1, Config{})
	const topic = "dr"
	kc.CreateTopic(t, topic, engine.TopicConfig{Partitions: 2})
	adm := kc.admin(t)
	ctx := testCtx(t, time.Minute)

	cl := kc.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < 2; p++ {
		for i := 0; i < 10; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte{byte(i)}}).FirstErr(); err != nil {
				t.Fatalf("produce to partition %d: %v", p, err)
			}
		}
	}

	del := func(os kadm.Offsets) kadm.DeleteRecordsResponses {
		t.Helper()
		rs, err := adm.DeleteRecords(ctx, os)
		if err != nil {
			t.Fatalf("delete records: %v", err)
		}
		return rs
	}
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 4})
	os.Add(kadm.Offset{Topic: topic, Partition: 1, At: -1}) // the high watermark
	rs := del(os)
	for p, want := range map[int32]int64{0: 4, 1: 10} {
		r, ok := rs.Lookup(topic, p)
		if !ok || r.Err != nil || r.LowWatermark != want {
			t.Errorf("partition %d: %+v (answered %v), want low watermark %d", p, r, ok, want)
		}
	}
	// A start already past the offset stays.
	os = nil
	os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 2})
	if r, _ := del(os).Lookup(topic, 0); r.Err != nil || r.LowWatermark != 4 {
		t.Errorf("delete below the start: %+v, want low watermark 4", r)
	}

	start, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int32]int64{0: 4, 1: 10} {
		if o, ok := start.Lookup(topic, p); !ok || o.Err != nil || o.Offset != want {
			t.Errorf("partition %d: start offset %+v, want %d", p, o, want)
		}
		if o, ok := end.Lookup(topic, p); !ok || o.Err != nil || o.Offset != 10 {
			t.Errorf("partition %d: end offset %+v, want 10", p, o)
		}
	}

	// Consumers of p0 from the start, and from deleted offset 0 (reset to
	// the start on OFFSET_OUT_OF_RANGE), see 4..9 only.
	for name, at := range map[string]kgo.Offset{"start": kgo.NewOffset().AtStart(), "offset 0": kgo.NewOffset().At(0)} {
		cons := kc.client(t,
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: at}}),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		var got []int64
		for len(got) < 6 {
			fs := cons.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("consume from %s: got offsets %v: %v", name, got, err)
			}
			fs.EachError(func(_ string, _ int32, err error) { t.Logf("consume from %s: %v", name, err) })
			fs.EachRecord(func(r *kgo.Record) { got = append(got, r.Offset) })
		}
		for i, o := range got {
			if o != int64(4+i) || i >= 6 {
				t.Fatalf("consume from %s: offsets %v, want 4..9", name, got)
			}
		}
	}

	// A Fetch below the start answers OFFSET_OUT_OF_RANGE.
	rc := dialRaw(t, kc.addrs[1])
	fr := kmsg.NewPtrFetchRequest()
	fr.Version = 11
	fr.MaxWaitMillis = 10
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.FetchOffset, fp.PartitionMaxBytes = 3, 1<<20
	ft.Partitions = append(ft.Partitions, fp)
	fr.Topics = append(fr.Topics, ft)
	fresp := roundTrip[*kmsg.FetchResponse](rc, fr)
	if p := fresp.Topics[0].Partitions[0]; p.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Errorf("fetch at 3: %v, want OFFSET_OUT_OF_RANGE", kerr.ErrorForCode(p.ErrorCode))
	}

	// Refused requests, at every version, leave the starts alone.
	for _, tc := range []struct {
		name      string
		topic     string
		partition int32
		offset    int64
		want      *kerr.Error
	}{
		{"unknown topic", "nope", 0, 1, kerr.UnknownTopicOrPartition},
		{"unknown partition", topic, 7, 1, kerr.UnknownTopicOrPartition},
		{"past the high watermark", topic, 0, 11, kerr.OffsetOutOfRange},
		{"negative offset", topic, 0, -2, kerr.OffsetOutOfRange},
	} {
		for v := int16(0); v <= 2; v++ {
			req := kmsg.NewPtrDeleteRecordsRequest()
			req.Version, req.TimeoutMillis = v, 10000
			rt := kmsg.NewDeleteRecordsRequestTopic()
			rt.Topic = tc.topic
			rp := kmsg.NewDeleteRecordsRequestTopicPartition()
			rp.Partition, rp.Offset = tc.partition, tc.offset
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := roundTrip[*kmsg.DeleteRecordsResponse](rc, req)
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("%s v%d: answer %+v, want one partition", tc.name, v, resp.Topics)
			}
			if p := resp.Topics[0].Partitions[0]; p.ErrorCode != tc.want.Code || p.LowWatermark != -1 || p.Partition != tc.partition {
				t.Errorf("%s v%d: %+v (%v), want %s and low watermark -1", tc.name, v, p, kerr.ErrorForCode(p.ErrorCode), tc.want.Message)
			}
		}
	}
	// Through kadm too (kgo forwards what its metadata knows).
	os = nil
	os.Add(kadm.Offset{Topic: topic, Partition: 1, At: 11})
	if r, _ := del(os).Lookup(topic, 1); !errors.Is(r.Err, kerr.OffsetOutOfRange) {
		t.Errorf("kadm delete past the high watermark: %+v, want OFFSET_OUT_OF_RANGE", r)
	}
	if start, err := adm.ListStartOffsets(ctx, topic); err != nil || off(start, topic) != 4 {
		t.Errorf("start of partition 0 after refused requests: %d, %v; want 4", off(start, topic), err)
	}
}
