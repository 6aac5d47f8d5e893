package shards

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"testing"

	"github.com/chronik-io/chronik/segment"
)

// txnBatch is testBatch with the transactional attribute.
func txnBatch(n int, pid int64, epoch int16, seq int32) []byte {
	recs := bytes.Repeat([]byte{0xcd}, 10*n)
	return segment.AppendBatch(nil, segment.BatchHeader{
		PartitionLeaderEpoch: -1, Attributes: AttrTransactional, LastOffsetDelta: int32(n - 1),
		BaseTimestamp: 1000, MaxTimestamp: 1000,
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, RecordCount: int32(n)}, recs)
}

func marker(pid int64, epoch int16, commit bool, coord int32) []byte {
	return TxnMarkerCommand(TxnMarker{ProducerID: pid, ProducerEpoch: epoch, Commit: commit, CoordinatorEpoch: coord}, 3, 5000)
}

// txnView is what a read_committed reader sees of a partition.
type txnView struct {
	LSO, End int64
	Aborted  []AbortedTxn
}

func viewTxns(t *testing.T, p *PartitionSM) txnView {
	t.Helper()
	_, lso, end, err := p.StableOffset()
	if err != nil {
		t.Fatal(err)
	}
	ab, err := p.AbortedTxns(0, end)
	if err != nil {
		t.Fatal(err)
	}
	return txnView{LSO: lso, End: end, Aborted: ab}
}

// TestPartitionTxns drives the transaction state machine through begin,
// continue, abort, commit, markers without a transaction, fenced producer
// and coordinator epochs, then checks that a restart and a snapshot install
// rebuild the same state and that moving the log start drops aborted
// entries below it; once scanning the log at Open, once with a transaction
// checkpoint after every Update.
func TestPartitionTxns(t *testing.T) {
	for _, every := range []int64{txnCheckpointBytes, 1} {
		t.Run(fmt.Sprintf("checkpoint every %d bytes", every), func(t *testing.T) {
			old := txnCheckpointBytes
			txnCheckpointBytes = every
			t.Cleanup(func() { txnCheckpointBytes = old })
			testPartitionTxns(t)
		})
	}
}

func testPartitionTxns(t *testing.T) {
	dir := t.TempDir()
	p, _ := openSM(t, dir)
	steps := []struct {
		name string
		cmd  []byte
		off  int64 // base offset, when code is ResultOK
		code byte
		want txnView
	}{
		{"plain", AppendCommand(nil, testBatch(3, 1000, -1, -1, -1), 3, 0, false), 0, ResultOK, txnView{3, 3, nil}},
		{"begin 7", AppendCommand(nil, txnBatch(2, 7, 0, 0), 3, 0, false), 3, ResultOK, txnView{3, 5, nil}},
		{"begin 8", AppendCommand(nil, txnBatch(1, 8, 0, 0), 3, 0, false), 5, ResultOK, txnView{3, 6, nil}},
		{"continue 7", AppendCommand(nil, txnBatch(1, 7, 0, 2), 3, 0, false), 6, ResultOK, txnView{3, 7, nil}},
		{"abort 7", marker(7, 0, false, 1), 7, ResultOK, txnView{5, 8, []AbortedTxn{{7, 3, 7}}}},
		{"commit 8", marker(8, 0, true, 1), 8, ResultOK, txnView{9, 9, []AbortedTxn{{7, 3, 7}}}},
		{"marker without txn bumps epoch", marker(7, 1, false, 2), 9, ResultOK, txnView{10, 10, []AbortedTxn{{7, 3, 7}}}},
		{"marker of an old epoch", marker(7, 0, true, 2), 0, ResultInvalidProducerEpoch, txnView{10, 10, []AbortedTxn{{7, 3, 7}}}},
		{"marker of an old coordinator", marker(7, 1, true, 1), 0, ResultCoordinatorFenced, txnView{10, 10, []AbortedTxn{{7, 3, 7}}}},
		{"batch of the fenced epoch", AppendCommand(nil, txnBatch(1, 7, 0, 3), 3, 0, false), 0, ResultInvalidProducerEpoch, txnView{10, 10, []AbortedTxn{{7, 3, 7}}}},
		{"coordinator batch of the fenced epoch", AppendCommand(nil, txnBatch(1, 7, 0, -1), 3, 0, false), 0, ResultInvalidProducerEpoch, txnView{10, 10, []AbortedTxn{{7, 3, 7}}}},
		{"begin 7 in epoch 1", AppendCommand(nil, txnBatch(2, 7, 1, 0), 3, 0, false), 10, ResultOK, txnView{10, 12, []AbortedTxn{{7, 3, 7}}}},
		{"begin 9", AppendCommand(nil, txnBatch(1, 9, 0, 0), 3, 0, false), 12, ResultOK, txnView{10, 13, []AbortedTxn{{7, 3, 7}}}},
		{"plain batch of 9 in its transaction", AppendCommand(nil, testBatch(1, 1000, 9, 0, 1), 3, 0, false), 0, ResultInvalidTxnState, txnView{10, 13, []AbortedTxn{{7, 3, 7}}}},
		{"abort 7 again", marker(7, 1, false, 2), 13, ResultOK, txnView{12, 14, []AbortedTxn{{7, 3, 7}, {7, 10, 13}}}},
		{"failed command starts nothing", AppendCommand(nil, append(txnBatch(1, 10, 0, 0), txnBatch(1, 7, 0, 9)...), 3, 0, false), 0, ResultInvalidProducerEpoch, txnView{12, 14, []AbortedTxn{{7, 3, 7}, {7, 10, 13}}}},
		{"bad marker command", []byte{cmdTxnMarker, 0}, 0, ResultBadCommand, txnView{12, 14, []AbortedTxn{{7, 3, 7}, {7, 10, 13}}}},
	}
	for i, s := range steps {
		res := update(t, p, uint64(i+1), s.cmd)[0]
		switch {
		case s.code == ResultOK && (len(res.Data) > 0 || int64(res.Value) != s.off):
			t.Fatalf("%s: result %+v, want offset %d", s.name, res, s.off)
		case s.code != ResultOK && (len(res.Data) == 0 || res.Data[0] != s.code):
			t.Fatalf("%s: result %+v, want code %d", s.name, res, s.code)
		}
		if got := viewTxns(t, p); !reflect.DeepEqual(got, s.want) {
			t.Fatalf("%s: %+v, want %+v", s.name, got, s.want)
		}
	}
	final := steps[len(steps)-1].want
	if got, _ := p.AbortedTxns(8, 11); !reflect.DeepEqual(got, []AbortedTxn{{7, 10, 13}}) {
		t.Fatalf("aborted in [8, 11): %+v", got)
	}
	if got, _ := p.AbortedTxns(0, 3); got != nil {
		t.Fatalf("aborted in [0, 3): %+v", got)
	}

	// The markers are proper control batches.
	b, _, _, err := p.Read(7, 1)
	if err != nil {
		t.Fatal(err)
	}
	h, err := segment.ParseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseTxnMarker(&h, b)
	if err != nil || m != (TxnMarker{ProducerID: 7, ProducerEpoch: 0, Commit: false, CoordinatorEpoch: 1}) || !IsTransactional(&h) || h.BaseSequence != -1 || h.MaxTimestamp != 5000 {
		t.Fatalf("marker at 7: %+v %v, header %+v", m, err, h)
	}
	if err := h.VerifyCRC(b); err != nil {
		t.Fatal(err)
	}

	// Restart: the same state, and the producer epochs still fence.
	p.Close()
	p, _ = openSM(t, dir)
	if got := viewTxns(t, p); !reflect.DeepEqual(got, final) {
		t.Fatalf("after restart: %+v, want %+v", got, final)
	}
	if res := update(t, p, 100, marker(7, 0, true, 5))[0]; len(res.Data) == 0 || res.Data[0] != ResultInvalidProducerEpoch {
		t.Fatalf("old-epoch marker after restart: %+v", res)
	}

	// Snapshot install on another replica.
	ctx, err := p.PrepareSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := p.SaveSnapshot(ctx, &buf, nil); err != nil {
		t.Fatal(err)
	}
	q, _ := openSM(t, t.TempDir())
	update(t, q, 1, AppendCommand(nil, txnBatch(1, 42, 0, 0), 3, 0, false)) // state the snapshot replaces
	if err := q.RecoverFromSnapshot(bytes.NewReader(buf.Bytes()), nil); err != nil {
		t.Fatal(err)
	}
	if got := viewTxns(t, q); !reflect.DeepEqual(got, final) {
		t.Fatalf("after snapshot: %+v, want %+v", got, final)
	}

	// Commit 9 and 7: LSO reaches the end. Retention past the first abort
	// drops it.
	update(t, q, 200, marker(9, 0, true, 1), marker(7, 1, true, 2))
	if got := viewTxns(t, q); got.LSO != 16 || got.End != 16 {
		t.Fatalf("after commits: %+v", got)
	}
	update(t, q, 202, SetLogStartCommand(9))
	if got, _ := q.AbortedTxns(0, 100); !reflect.DeepEqual(got, []AbortedTxn{{7, 10, 13}}) {
		t.Fatalf("after retention: %+v", got)
	}
}

func TestParseTxnMarker(t *testing.T) {
	good := AppendTxnMarker(nil, TxnMarker{ProducerID: 3, ProducerEpoch: 2, Commit: true, CoordinatorEpoch: 9}, 77, 1, 123)
	h, err := segment.ParseBatchHeader(good)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := ParseTxnMarker(&h, good); err != nil || m != (TxnMarker{3, 2, true, 9}) {
		t.Fatalf("%+v %v", m, err)
	}
	plain := testBatch(1, 0, -1, -1, -1)
	ph, _ := segment.ParseBatchHeader(plain)
	if _, err := ParseTxnMarker(&ph, plain); !errors.Is(err, ErrNotTxnMarker) {
		t.Fatalf("plain batch: %v", err)
	}
	for cut := segment.BatchHeaderSize; cut < len(good); cut++ {
		if _, err := ParseTxnMarker(&h, good[:cut]); !errors.Is(err, ErrNotTxnMarker) {
			t.Fatalf("cut at %d: %v", cut, err)
		}
	}
}

// FuzzParseTxnMarker: never panics, never reads past the batch.
func FuzzParseTxnMarker(f *testing.F) {
	good := AppendTxnMarker(nil, TxnMarker{ProducerID: 3, ProducerEpoch: 2, CoordinatorEpoch: 9}, 0, 1, 123)
	f.Add([]byte{})
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append(append([]byte(nil), good...), 1, 2, 3))
	f.Add(testBatch(2, 0, 1, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := segment.ParseBatchHeader(b)
		if err != nil {
			return
		}
		h.Attributes |= AttrControl
		m, err := ParseTxnMarker(&h, b[:h.Size():h.Size()])
		if err == nil && (m.ProducerID != h.ProducerID || m.ProducerEpoch != h.ProducerEpoch) {
			t.Fatalf("marker %+v from header %+v", m, h)
		}
	})
}

// TestTxnCheckpoint: Update writes the transaction checkpoint, Open loads
// it instead of scanning from the log start, and ignores one that does not
// match the log (past its end, damaged).
func TestTxnCheckpoint(t *testing.T) {
	old := txnCheckpointBytes
	txnCheckpointBytes = 1 // after every Update
	t.Cleanup(func() { txnCheckpointBytes = old })
	dir := t.TempDir()
	p, _ := openSM(t, dir)
	update(t, p, 1,
		AppendCommand(nil, txnBatch(2, 7, 0, 0), 3, 0, false), // 0-1
		AppendCommand(nil, txnBatch(1, 8, 0, 0), 3, 0, false), // 2
		marker(7, 0, false, 1),                                // 3
	)
	want := viewTxns(t, p)
	if !reflect.DeepEqual(want, txnView{LSO: 2, End: 4, Aborted: []AbortedTxn{{7, 0, 3}}}) {
		t.Fatalf("before restart: %+v", want)
	}
	name := dir + "/" + txnCheckpointFile
	ck, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	tt, off, err := decodeTxnCheckpoint(ck)
	if err != nil || off != 4 {
		t.Fatalf("checkpoint at %d: %v", off, err)
	}
	p.Close()

	reopen := func() txnView {
		t.Helper()
		q, _ := openSM(t, dir)
		defer q.Close()
		return viewTxns(t, q)
	}
	if got := reopen(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after restart: %+v, want %+v", got, want)
	}
	// A checkpoint is trusted: an entry only it holds shows up.
	tt.aborted = append([]AbortedTxn{{99, 0, 1}}, tt.aborted...)
	if err := os.WriteFile(name, tt.encode(4), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := reopen(); len(got.Aborted) != 2 || got.Aborted[0].ProducerID != 99 {
		t.Fatalf("checkpoint not used: %+v", got)
	}
	// One past the log end, or damaged, is ignored: a full scan.
	for _, b := range [][]byte{tt.encode(5), append(tt.encode(4)[:20], 0xff)} {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if got := reopen(); !reflect.DeepEqual(got, want) {
			t.Fatalf("bad checkpoint used: %+v, want %+v", got, want)
		}
	}
}

// FuzzDecodeTxnCheckpoint: never panics; what decodes re-encodes to a
// checkpoint that decodes to the same state.
func FuzzDecodeTxnCheckpoint(f *testing.F) {
	t := newTxnTable()
	t.begin(1, 2, 3)
	t.end(4, false, 5, 6)
	t.aborted = append(t.aborted, AbortedTxn{7, 8, 9})
	good := t.encode(10)
	f.Add([]byte{})
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(append(append([]byte(nil), good...), 0))
	f.Add(newTxnTable().encode(0))
	f.Fuzz(func(t *testing.T, b []byte) {
		tt, off, err := decodeTxnCheckpoint(b)
		if err != nil {
			return
		}
		t2, off2, err := decodeTxnCheckpoint(tt.encode(off))
		if err != nil || off2 != off || !reflect.DeepEqual(t2.ongoing, tt.ongoing) ||
			!reflect.DeepEqual(t2.aborted, tt.aborted) || !reflect.DeepEqual(t2.coord, tt.coord) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
