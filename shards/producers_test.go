package shards

import (
	"bytes"
	"reflect"
	"testing"
)

func producersOf(t *testing.T, p *PartitionSM) []ProducerState {
	t.Helper()
	ps, err := p.Producers()
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// TestPartitionProducers: the producer listing of DescribeProducers follows
// batches, LogAppendTime, markers and a failed command, and a restart and a
// snapshot install rebuild the same listing from the log.
func TestPartitionProducers(t *testing.T) {
	dir := t.TempDir()
	p, _ := openSM(t, dir)
	pid5 := func(seq int32, ts int64) ProducerState {
		return ProducerState{ProducerID: 5, LastSequence: seq, LastTimestamp: ts, CoordinatorEpoch: -1, TxnStartOffset: -1}
	}
	steps := []struct {
		name string
		cmd  []byte
		want []ProducerState
	}{
		{"plain batch: no producer", AppendCommand(nil, testBatch(3, 1000, -1, -1, -1), 3, 0, false), []ProducerState{}},
		{"idempotent batch", AppendCommand(nil, testBatch(3, 2000, 5, 0, 0), 3, 0, false),
			[]ProducerState{pid5(2, 2000)}},
		{"transaction begins at 6", AppendCommand(nil, txnBatch(2, 7, 0, 0), 3, 0, false),
			[]ProducerState{pid5(2, 2000), {7, 0, 1, 1000, -1, 6}}},
		{"LogAppendTime stamps the last timestamp", AppendCommand(nil, testBatch(1, 2500, 5, 0, 3), 3, 3000, true),
			[]ProducerState{pid5(3, 3000), {7, 0, 1, 1000, -1, 6}}},
		{"commit: no transaction, coordinator epoch, marker time", marker(7, 0, true, 4),
			[]ProducerState{pid5(3, 3000), {7, 0, 1, 5000, 4, -1}}},
		{"marker of a new epoch resets the sequence", marker(7, 1, false, 4),
			[]ProducerState{pid5(3, 3000), {7, 1, -1, 5000, 4, -1}}},
		{"failed command leaves no producer", AppendCommand(nil, append(txnBatch(1, 11, 0, 0), txnBatch(1, 7, 0, 9)...), 3, 0, false),
			[]ProducerState{pid5(3, 3000), {7, 1, -1, 5000, 4, -1}}},
		{"transaction of the new epoch", AppendCommand(nil, txnBatch(1, 7, 1, 0), 3, 0, false),
			[]ProducerState{pid5(3, 3000), {7, 1, 0, 1000, 4, 11}}},
	}
	for i, s := range steps {
		update(t, p, uint64(i+1), s.cmd)
		if got := producersOf(t, p); !reflect.DeepEqual(got, s.want) {
			t.Fatalf("%s:\n got %+v\nwant %+v", s.name, got, s.want)
		}
	}
	final := steps[len(steps)-1].want

	p.Close()
	p, _ = openSM(t, dir)
	if got := producersOf(t, p); !reflect.DeepEqual(got, final) {
		t.Fatalf("after restart:\n got %+v\nwant %+v", got, final)
	}

	ctx, err := p.PrepareSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := p.SaveSnapshot(ctx, &buf, nil); err != nil {
		t.Fatal(err)
	}
	q, _ := openSM(t, t.TempDir())
	update(t, q, 1, AppendCommand(nil, testBatch(1, 1000, 42, 0, 0), 3, 0, false)) // replaced by the snapshot
	if err := q.RecoverFromSnapshot(bytes.NewReader(buf.Bytes()), nil); err != nil {
		t.Fatal(err)
	}
	if got := producersOf(t, q); !reflect.DeepEqual(got, final) {
		t.Fatalf("after snapshot:\n got %+v\nwant %+v", got, final)
	}

	p.Close()
	if _, err := p.Producers(); err == nil {
		t.Fatal("Producers on a closed partition: no error")
	}
}
