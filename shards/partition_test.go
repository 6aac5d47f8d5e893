package shards

import (
	"bytes"
	"testing"

	"github.com/chronik-io/chronik/segment"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// testBatch builds a v2 batch of n records (opaque record bytes: the state
// machine never decodes them) for producer pid/epoch starting at seq.
func testBatch(n int, ts int64, pid int64, epoch int16, seq int32) []byte {
	recs := bytes.Repeat([]byte{0xab}, 10*n)
	return segment.AppendBatch(make([]byte, 0, segment.BatchHeaderSize+len(recs)), segment.BatchHeader{
		PartitionLeaderEpoch: -1, LastOffsetDelta: int32(n - 1), BaseTimestamp: ts, MaxTimestamp: ts,
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, RecordCount: int32(n)}, recs)
}

func openSM(t *testing.T, dir string) (*PartitionSM, uint64) {
	t.Helper()
	p := NewPartitionSM(100, 1, PartitionConfig{Dir: dir, Segment: &segment.Options{SegmentBytes: 4096, DisableBackgroundRewrite: true}})
	idx, err := p.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, idx
}

func update(t *testing.T, p *PartitionSM, first uint64, cmds ...[]byte) []sm.Result {
	t.Helper()
	ents := make([]sm.Entry, len(cmds))
	for i, c := range cmds {
		ents[i] = sm.Entry{Index: first + uint64(i), Cmd: c}
	}
	out, err := p.Update(ents)
	if err != nil {
		t.Fatal(err)
	}
	res := make([]sm.Result, len(out))
	for i := range out {
		res[i] = out[i].Result
	}
	return res
}

func TestPartitionUpdate(t *testing.T) {
	dir := t.TempDir()
	p, idx := openSM(t, dir)
	if idx != 0 {
		t.Fatalf("empty log opened at index %d", idx)
	}
	plain := testBatch(3, 1000, -1, -1, -1)
	orig := append([]byte(nil), plain...)
	idem0 := testBatch(2, 1000, 7, 0, 0)
	idem1 := testBatch(2, 1000, 7, 0, 2)
	type want struct {
		off  int64
		code byte
	}
	steps := []struct {
		name string
		cmd  []byte
		want want
	}{
		{"plain", AppendCommand(nil, plain, 4, 0, false), want{0, ResultOK}},
		{"two batches", AppendCommand(nil, append(append([]byte(nil), plain...), plain...), 4, 0, false), want{3, ResultOK}},
		{"idempotent", AppendCommand(nil, idem0, 4, 0, false), want{9, ResultOK}},
		{"duplicate", AppendCommand(nil, idem0, 4, 0, false), want{9, ResultOK}},
		{"next seq", AppendCommand(nil, idem1, 5, 0, false), want{11, ResultOK}},
		{"gap", AppendCommand(nil, testBatch(1, 1000, 7, 0, 9), 5, 0, false), want{0, ResultOutOfOrderSequence}},
		{"fenced epoch", AppendCommand(nil, testBatch(1, 1000, 7, -1, 4), 5, 0, false), want{0, ResultInvalidProducerEpoch}},
		{"log append time", AppendCommand(nil, plain, 5, 424242, true), want{13, ResultOK}},
		{"garbage", []byte{1, 2, 3}, want{0, ResultBadCommand}},
		{"corrupt length", AppendCommand(nil, plain[:20], 5, 0, false), want{0, ResultCorrupt}},
	}
	cmds := make([][]byte, len(steps))
	for i, s := range steps {
		cmds[i] = s.cmd
	}
	res := update(t, p, 1, cmds...)
	for i, s := range steps {
		var code byte
		if len(res[i].Data) > 0 {
			code = res[i].Data[0]
		}
		if code != s.want.code || (code == ResultOK && int64(res[i].Value) != s.want.off) {
			t.Fatalf("%s: result %d code %d, want %+v", s.name, res[i].Value, code, s.want)
		}
	}
	if !bytes.Equal(plain, orig) {
		t.Fatal("Update modified the proposed command bytes")
	}
	if li, _ := p.LastIndex(); li != uint64(len(steps)) {
		t.Fatalf("last index %d, want %d", li, len(steps))
	}
	b, start, end, err := p.Read(13, 1<<20)
	if err != nil || start != 0 || end != 16 {
		t.Fatalf("read: %v start %d end %d", err, start, end)
	}
	h, _ := segment.ParseBatchHeader(b)
	if h.BaseOffset != 13 || h.PartitionLeaderEpoch != 5 || h.MaxTimestamp != 424242 || !h.LogAppendTime() {
		t.Fatalf("log-append-time batch header %+v", h)
	}
	if _, err := ValidateBatches(b, 0, nil); err != nil {
		t.Fatalf("rewritten batch fails validation: %v", err)
	}
	// Move the log start, then reopen: same index, dedup state rebuilt.
	res = update(t, p, uint64(len(steps)+1), SetLogStartCommand(3), AppendCommand(nil, plain, 6, 0, false))
	if res[0].Value != 3 || res[1].Value != 16 {
		t.Fatalf("set log start / append: %+v", res)
	}
	p.Close()
	p2, idx := openSM(t, dir)
	if want := uint64(len(steps) + 2); idx != want {
		t.Fatalf("reopened at index %d, want %d", idx, want)
	}
	if s, e, _ := p2.Offsets(); s != 3 || e != 19 {
		t.Fatalf("reopened offsets [%d, %d), want [3, 19)", s, e)
	}
	res = update(t, p2, idx+1, AppendCommand(nil, idem1, 6, 0, false))
	if res[0].Value != 11 || len(res[0].Data) != 0 {
		t.Fatalf("duplicate after reopen: %+v, want original offset 11", res[0])
	}
}

func TestPartitionSnapshot(t *testing.T) {
	p, _ := openSM(t, t.TempDir())
	var cmds [][]byte
	for i := 0; i < 50; i++ {
		cmds = append(cmds, AppendCommand(nil, testBatch(5, int64(i), -1, -1, -1), 1, 0, false))
	}
	update(t, p, 1, cmds...)
	ctx, err := p.PrepareSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Appends after the checkpoint are not in the snapshot.
	update(t, p, 51, AppendCommand(nil, testBatch(5, 0, -1, -1, -1), 1, 0, false))
	var buf bytes.Buffer
	if err := p.SaveSnapshot(ctx, &buf, nil); err != nil {
		t.Fatal(err)
	}
	q, _ := openSM(t, t.TempDir())
	update(t, q, 1, AppendCommand(nil, testBatch(1, 0, -1, -1, -1), 1, 0, false)) // replaced by the restore
	if err := q.RecoverFromSnapshot(&buf, nil); err != nil {
		t.Fatal(err)
	}
	if li, _ := q.LastIndex(); li != 50 {
		t.Fatalf("restored last index %d, want 50", li)
	}
	a, _, _, _ := p.Read(0, 1<<20)
	b, _, end, _ := q.Read(0, 1<<20)
	if end != 250 || !bytes.Equal(a[:len(b)], b) {
		t.Fatalf("restored log differs (end %d)", end)
	}
	if q.SnapshotsRecovered() != 1 {
		t.Fatal("recovery not counted")
	}
}

// FuzzValidateBatches: any bytes never panic; accepted input parses back
// into whole batches that cover it exactly.
func FuzzValidateBatches(f *testing.F) {
	good := testBatch(3, 5, -1, -1, -1)
	f.Add(good)
	f.Add(append(append([]byte(nil), good...), good...))
	f.Add(good[:len(good)-1])
	f.Add(append(append([]byte(nil), good...), 1, 2, 3))
	f.Add([]byte{})
	f.Add(make([]byte, segment.BatchHeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		covered, records := 0, 0
		s, err := ValidateBatches(b, 1<<20, func(h segment.BatchHeader, batch []byte) error {
			if len(batch) != h.Size() || &batch[0] != &b[covered] {
				t.Fatalf("batch of %d bytes at %d, header size %d", len(batch), covered, h.Size())
			}
			covered += len(batch)
			records += int(h.RecordCount)
			return nil
		})
		if err != nil {
			return
		}
		if covered != len(b) || s.Bytes != len(b) || s.Records != records {
			t.Fatalf("accepted %+v covering %d of %d bytes, %d records", s, covered, len(b), records)
		}
		n := 0
		if err := segment.EachBatch(b, func(segment.BatchHeader, []byte) error { n++; return nil }); err != nil || n != s.Batches {
			t.Fatalf("accepted %d batches, segment sees %d: %v", s.Batches, n, err)
		}
	})
}

// FuzzPartitionCommand: any bytes as an entry never panic or fail Update,
// and the log stays readable.
func FuzzPartitionCommand(f *testing.F) {
	f.Add(AppendCommand(nil, testBatch(2, 1, -1, -1, -1), 1, 0, false))
	f.Add(AppendCommand(nil, testBatch(2, 1, 5, 0, 0), 1, 9, true))
	f.Add(SetLogStartCommand(1))
	f.Add([]byte{cmdAppend})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, cmd []byte) {
		p, _ := openSM(t, t.TempDir())
		update(t, p, 1, AppendCommand(nil, testBatch(2, 1, -1, -1, -1), 1, 0, false), cmd)
		start, _, _ := p.Offsets()
		if _, _, _, err := p.Read(start, 1<<20); err != nil {
			t.Fatal(err)
		}
	})
}
