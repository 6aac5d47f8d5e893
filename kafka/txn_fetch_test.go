package kafka

import (
	"encoding/binary"
	"hash/crc32"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// txnBatch encodes recs as a transactional batch of producer pid/epoch.
func txnBatch(values []string, pid int64, epoch int16, seq int32) []byte {
	recs := make([]engine.Record, len(values))
	for i, v := range values {
		recs[i] = engine.Record{Value: []byte(v)}
	}
	b := engine.EncodeBatch(recs, time.Now())
	binary.BigEndian.PutUint16(b[21:], binary.BigEndian.Uint16(b[21:])|0x10)
	binary.BigEndian.PutUint64(b[43:], uint64(pid))
	binary.BigEndian.PutUint16(b[51:], uint16(epoch))
	binary.BigEndian.PutUint32(b[53:], uint32(seq))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// TestFetchReadCommitted: over the wire, a read_committed Fetch (isolation
// level 1) stops at the last stable offset and lists the aborted
// transaction; read_uncommitted returns everything with the same LSO;
// ListOffsets latest answers the LSO for read_committed. The markers
// decode as Kafka control records with kmsg, and a franz-go consumer with
// read_committed sees exactly the committed records.
func TestFetchReadCommitted(t *testing.T) {
	kc := newKafkaCluster(t, 1, Config{})
	kc.CreateTopic(t, "txf", engine.TopicConfig{Partitions: 1})
	e := kc.Engine(1)
	ctx := testCtx(t, time.Minute)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	produce := func(b []byte) {
		t.Helper()
		_, err := e.ProduceBatch(ctx, "txf", 0, b)
		must(err)
	}
	const a, b, d = 11, 12, 13                                                         // producer ids
	must(e.WriteTxnMarker(ctx, "txf", 0, 99, 0, true, 0))                              // 0: marker without a transaction
	produce(engine.EncodeBatch([]engine.Record{{Value: []byte("plain")}}, time.Now())) // 1
	produce(txnBatch([]string{"a1", "a2"}, a, 0, 0))                                   // 2-3
	produce(txnBatch([]string{"b1"}, b, 0, 0))                                         // 4
	produce(txnBatch([]string{"a3"}, a, 0, 2))                                         // 5
	must(e.WriteTxnMarker(ctx, "txf", 0, a, 0, false, 3))                              // 6: abort a
	must(e.WriteTxnMarker(ctx, "txf", 0, b, 0, true, 3))                               // 7: commit b
	produce(txnBatch([]string{"d1"}, d, 0, 0))                                         // 8: open
	produce(engine.EncodeBatch([]engine.Record{{Value: []byte("late")}}, time.Now()))  // 9

	rc := dialRaw(t, kc.addrs[1])
	fetch := func(version int16, isolation int8) kmsg.FetchResponseTopicPartition {
		fr := kmsg.NewPtrFetchRequest()
		fr.Version = version
		fr.MaxBytes = 1 << 20
		fr.IsolationLevel = isolation
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = "txf"
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.PartitionMaxBytes = 1 << 20
		ft.Partitions = append(ft.Partitions, fp)
		fr.Topics = append(fr.Topics, ft)
		return roundTrip[*kmsg.FetchResponse](rc, fr).Topics[0].Partitions[0]
	}
	batches := func(b []byte) []kmsg.RecordBatch {
		var out []kmsg.RecordBatch
		for len(b) > 0 {
			var rb kmsg.RecordBatch
			if err := rb.ReadFrom(b); err != nil {
				t.Fatal(err)
			}
			out = append(out, rb)
			b = b[12+rb.Length:]
		}
		return out
	}
	for _, v := range []int16{4, 11, 12} {
		p := fetch(v, 1)
		if p.ErrorCode != 0 || p.HighWatermark != 10 || p.LastStableOffset != 8 {
			t.Fatalf("v%d read_committed: error %d hw %d lso %d", v, p.ErrorCode, p.HighWatermark, p.LastStableOffset)
		}
		want := []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: a, FirstOffset: 2}}
		if !reflect.DeepEqual(p.AbortedTransactions, want) {
			t.Fatalf("v%d aborted %+v, want %+v", v, p.AbortedTransactions, want)
		}
		var bases []int64
		for _, rb := range batches(p.RecordBatches) {
			bases = append(bases, rb.FirstOffset)
		}
		if !reflect.DeepEqual(bases, []int64{0, 1, 2, 4, 5, 6, 7}) {
			t.Fatalf("v%d read_committed batches at %v", v, bases)
		}
		u := fetch(v, 0)
		if u.LastStableOffset != 8 || u.AbortedTransactions != nil || len(batches(u.RecordBatches)) != 9 {
			t.Fatalf("v%d read_uncommitted: lso %d aborted %v, %d batches", v, u.LastStableOffset, u.AbortedTransactions, len(batches(u.RecordBatches)))
		}
	}

	// The abort marker is a Kafka control batch.
	abort := batches(fetch(12, 0).RecordBatches)[5]
	if abort.FirstOffset != 6 || abort.Attributes&0x30 != 0x30 || abort.ProducerID != a || abort.FirstSequence != -1 || abort.NumRecords != 1 {
		t.Fatalf("abort marker batch %+v", abort)
	}
	var rec kmsg.Record
	n, k := binary.Varint(abort.Records)
	must(rec.ReadFrom(abort.Records[:k+int(n)]))
	var key kmsg.ControlRecordKey
	var val kmsg.EndTxnMarker
	must(key.ReadFrom(rec.Key))
	must(val.ReadFrom(rec.Value))
	if key.Version != 0 || key.Type != kmsg.ControlRecordKeyTypeAbort || val.Version != 0 || val.CoordinatorEpoch != 3 {
		t.Fatalf("abort marker key %+v value %+v", key, val)
	}

	for _, iso := range []int8{0, 1} {
		lr := kmsg.NewPtrListOffsetsRequest()
		lr.Version = 7
		lr.IsolationLevel = iso
		lt := kmsg.NewListOffsetsRequestTopic()
		lt.Topic = "txf"
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Timestamp = -1
		lt.Partitions = append(lt.Partitions, lp)
		lr.Topics = append(lr.Topics, lt)
		got := roundTrip[*kmsg.ListOffsetsResponse](rc, lr).Topics[0].Partitions[0]
		if want := map[int8]int64{0: 10, 1: 8}[iso]; got.ErrorCode != 0 || got.Offset != want {
			t.Fatalf("list offsets latest, isolation %d: %+v, want %d", iso, got, want)
		}
	}

	// franz-go, read_committed: the committed records only, up to the LSO.
	// Committing d then releases d1 and late.
	cl := kc.client(t, kgo.ConsumeTopics("txf"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	poll := func(n int) {
		t.Helper()
		for len(got) < n {
			fs := cl.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				t.Fatal(err)
			}
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
	}
	poll(2)
	if !reflect.DeepEqual(got, []string{"plain", "b1"}) {
		t.Fatalf("read_committed consumer got %q", got)
	}
	must(e.WriteTxnMarker(ctx, "txf", 0, d, 0, true, 3))
	poll(4)
	if !reflect.DeepEqual(got, []string{"plain", "b1", "d1", "late"}) {
		t.Fatalf("read_committed consumer got %q", got)
	}
}
