package shards

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chronik-io/chronik/segment"
)

type ee = segment.EpochEntry

func TestEndOffsetForEpoch(t *testing.T) {
	hist := []ee{{Epoch: 2, StartOffset: 10}, {Epoch: 4, StartOffset: 30}, {Epoch: 7, StartOffset: 45}}
	for _, c := range []struct {
		name      string
		es        []ee
		requested int32
		epoch     int32
		end       int64
	}{
		{"empty history", nil, 3, -1, -1},
		{"undefined epoch", hist, -1, -1, -1},
		{"latest epoch ends at the log end", hist, 7, 7, 100},
		{"known epoch ends where the next starts", hist, 2, 2, 30},
		{"middle epoch", hist, 4, 4, 45},
		{"unknown epoch between: the one below answers", hist, 3, 2, 30},
		{"unknown epoch between 4 and 7", hist, 6, 4, 45},
		{"below the first epoch: the first start (Kafka)", hist, 1, 1, 10},
		{"above every epoch", hist, 8, -1, -1},
		{"single epoch", []ee{{Epoch: 5, StartOffset: 0}}, 5, 5, 100},
		{"single epoch, asked below", []ee{{Epoch: 5, StartOffset: 0}}, 3, 3, 0},
	} {
		epoch, end := EndOffsetForEpoch(c.es, c.requested, 100)
		if epoch != c.epoch || end != c.end {
			t.Errorf("%s: EndOffsetForEpoch(%v, %d) = %d, %d; want %d, %d", c.name, c.es, c.requested, epoch, end, c.epoch, c.end)
		}
	}
}

func TestEpochTruncation(t *testing.T) {
	hist := []ee{{Epoch: 2, StartOffset: 10}, {Epoch: 4, StartOffset: 30}, {Epoch: 7, StartOffset: 45}}
	for _, c := range []struct {
		name  string
		front bool
		off   int64
		want  []ee
	}{
		{"front below the first", true, 5, hist},
		{"front at the first", true, 10, hist},
		{"front inside an epoch", true, 35, []ee{{Epoch: 4, StartOffset: 35}, {Epoch: 7, StartOffset: 45}}},
		{"front at an epoch start", true, 45, []ee{{Epoch: 7, StartOffset: 45}}},
		{"front past the last start", true, 90, []ee{{Epoch: 7, StartOffset: 90}}},
		{"back past the end", false, 46, hist},
		{"back at an epoch start", false, 45, []ee{{Epoch: 2, StartOffset: 10}, {Epoch: 4, StartOffset: 30}}},
		{"back to nothing", false, 10, []ee{}},
	} {
		in := slices.Clone(hist)
		var got []ee
		if c.front {
			got = truncateEpochsFront(in, c.off)
		} else {
			got = truncateEpochsBack(in, c.off)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	es, ok := assignEpoch(nil, 3, 0)
	es, ok2 := assignEpoch(es, 3, 5)
	es, ok3 := assignEpoch(es, 2, 6) // a stale stamp stays in epoch 3
	es, ok4 := assignEpoch(es, 5, 9)
	if !ok || ok2 || ok3 || !ok4 || !slices.Equal(es, []ee{{Epoch: 3, StartOffset: 0}, {Epoch: 5, StartOffset: 9}}) {
		t.Fatalf("assign: %v %v %v %v %v", es, ok, ok2, ok3, ok4)
	}
}

// epochLog fills p with 4-record batches of ~360 bytes (each command one batch): epochs
// lists the stamp of each command. It returns the next Raft index.
func epochLog(t *testing.T, p *PartitionSM, first uint64, epochs ...int32) uint64 {
	t.Helper()
	recs := bytes.Repeat([]byte{0xcd}, 300) // opaque: ~1/10 of a test segment
	batch := segment.AppendBatch(nil, segment.BatchHeader{PartitionLeaderEpoch: -1, LastOffsetDelta: 3,
		BaseTimestamp: 1000, MaxTimestamp: 1000, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, RecordCount: 4}, recs)
	for _, e := range epochs {
		update(t, p, first, AppendCommand(nil, batch, e, 0, false))
		first++
	}
	return first
}

// stamps reads every batch of p and returns the history the stamps imply,
// independently of the state machine's bookkeeping.
func stamps(t *testing.T, p *PartitionSM) []ee {
	t.Helper()
	start, end, _ := p.Offsets()
	var es []ee
	for off := start; off < end; {
		b, _, _, err := p.Read(off, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for len(b) > 0 {
			h, err := segment.ParseBatchHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(es); n == 0 || h.PartitionLeaderEpoch > es[n-1].Epoch {
				es = append(es, ee{Epoch: h.PartitionLeaderEpoch, StartOffset: max(h.BaseOffset, start)})
			}
			off = h.LastOffset() + 1
			b = b[h.Size():]
		}
	}
	return es
}

func checkEpochs(t *testing.T, what string, p *PartitionSM, want []ee) {
	t.Helper()
	got, err := p.Epochs()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: epochs %v, want %v", what, got, want)
	}
	if s := stamps(t, p); !slices.Equal(s, want) {
		t.Fatalf("%s: the batches' stamps say %v, want %v", what, s, want)
	}
}

func TestPartitionEpochHistory(t *testing.T) {
	dir := t.TempDir()
	p, _ := openSM(t, dir)
	// Enough batches to roll several 4 KiB segments in each epoch; a stale
	// stamp (2 after 3) stays part of epoch 3.
	var seq []int32
	for _, e := range []int32{1, 3, 2, 3, 6} {
		for range 12 {
			seq = append(seq, e)
		}
	}
	next := epochLog(t, p, 1, seq...)
	want := []ee{{Epoch: 1, StartOffset: 0}, {Epoch: 3, StartOffset: 48}, {Epoch: 6, StartOffset: 192}}
	checkEpochs(t, "applied", p, want)
	if segs, _ := p.Segments(); len(segs) < 4 {
		t.Fatalf("only %d segments; the test wants several", len(segs))
	}
	for _, c := range []struct {
		req, cur, epoch int32
		end             int64
	}{
		{1, -1, 1, 48}, {2, -1, 1, 48}, {3, -1, 3, 192}, {6, -1, 6, 240}, {7, -1, -1, -1},
		{6, 9, 6, 240}, {7, 9, 6, 240}, {9, 9, 9, 240}, {0, -1, 0, 0},
	} {
		epoch, end, err := p.EndOffsetForEpoch(c.req, c.cur)
		if err != nil || epoch != c.epoch || end != c.end {
			t.Errorf("EndOffsetForEpoch(%d, current %d) = %d, %d, %v; want %d, %d", c.req, c.cur, epoch, end, err, c.epoch, c.end)
		}
	}

	reopen := func(what string) {
		t.Helper()
		p.Close()
		var idx uint64
		p, idx = openSM(t, dir)
		next = idx + 1
		checkEpochs(t, what, p, want)
	}
	reopen("reopened")
	file := filepath.Join(dir, segment.EpochsFile)
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	reopen("rebuilt without the file")
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("rebuilt history not written back: %v", err)
	}
	if err := os.WriteFile(file, []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	reopen("rebuilt from a damaged file")
	// A file behind the log (a failed write before a crash).
	if err := os.WriteFile(file, segment.EncodeEpochs(want[:2]), 0o644); err != nil {
		t.Fatal(err)
	}
	reopen("rebuilt from a stale file")
	// A file ahead of the log (a torn tail that Raft re-applies): the entry
	// past the end is dropped.
	if err := os.WriteFile(file, segment.EncodeEpochs(append(slices.Clone(want), ee{Epoch: 8, StartOffset: 500})), 0o644); err != nil {
		t.Fatal(err)
	}
	reopen("file ahead of the log")

	// Retention moves the log start into epoch 3: epoch 1 goes, epoch 3
	// starts at the log start.
	update(t, p, next, SetLogStartCommand(150))
	next++
	want = []ee{{Epoch: 3, StartOffset: 150}, {Epoch: 6, StartOffset: 192}}
	checkEpochs(t, "after the log start moved", p, want)
	reopen("reopened after the log start moved")
	next = epochLog(t, p, next, 7, 7)
	want = append(want, ee{Epoch: 7, StartOffset: 240})
	checkEpochs(t, "a new epoch after reopen", p, want)

	// A snapshot carries the history; so does a rebuild of one without it
	// (an older sender).
	ctx, err := p.PrepareSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	epochLog(t, p, next, 9) // after the snapshot point
	var buf bytes.Buffer
	if err := p.SaveSnapshot(ctx, &buf, nil); err != nil {
		t.Fatal(err)
	}
	snap := buf.Bytes()
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"snapshot", snap},
		{"snapshot without history", snap[len(segment.EncodeEpochs(want)):]},
	} {
		qdir := t.TempDir()
		q, _ := openSM(t, qdir)
		epochLog(t, q, 1, 20, 20, 21) // replaced by the restore
		if err := q.RecoverFromSnapshot(bytes.NewReader(c.b), nil); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		checkEpochs(t, c.name, q, want)
		q.Close()
		q, _ = openSM(t, qdir)
		checkEpochs(t, c.name+", reopened", q, want)
	}
}

// Compaction (engine/compact.go) empties batches but keeps their headers, so
// neither the history nor a rebuild of it from the batches changes.
func TestPartitionEpochsAfterCompaction(t *testing.T) {
	dir := t.TempDir()
	p, _ := openSM(t, dir)
	var seq []int32
	for _, e := range []int32{1, 2, 3} {
		for range 12 {
			seq = append(seq, e)
		}
	}
	epochLog(t, p, 1, seq...)
	want := []ee{{Epoch: 1, StartOffset: 0}, {Epoch: 2, StartOffset: 48}, {Epoch: 3, StartOffset: 96}}
	empty := func(b []byte) ([]byte, error) { // every record of epoch 2 goes
		var out []byte
		err := segment.EachBatch(b, func(h segment.BatchHeader, batch []byte) error {
			if h.PartitionLeaderEpoch != 2 {
				out = append(out, batch...)
				return nil
			}
			h.RecordCount = 0
			out = segment.AppendBatch(out, h)
			return nil
		})
		return out, err
	}
	st, err := p.Compact(96, empty)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rewritten == 0 {
		t.Fatalf("nothing compacted: %+v", st)
	}
	checkEpochs(t, "after compaction", p, want)
	p.Close()
	if err := os.Remove(filepath.Join(dir, segment.EpochsFile)); err != nil {
		t.Fatal(err)
	}
	p, _ = openSM(t, dir)
	checkEpochs(t, "rebuilt after compaction", p, want)
}
