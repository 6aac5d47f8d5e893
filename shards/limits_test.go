package shards

import (
	"errors"
	"testing"

	"github.com/chronik-io/chronik/internal/errs"
	"github.com/chronik-io/chronik/segment"
)

// bigBatch is one valid batch of about size bytes.
func bigBatch(size int) []byte { return testBatch(size/10, 1000, -1, -1, -1) }

// TestUpdateSplitsLargeApplyBatches: entries whose batches add up to more
// than MaxAppendBytes in one apply batch are written as several frames (one
// frame that large would be refused by the segment log, and a committed
// entry that cannot be stored stops the replica for good), with every
// offset and the last index intact across a reopen.
func TestUpdateSplitsLargeApplyBatches(t *testing.T) {
	dir := t.TempDir()
	p, _ := openSM(t, dir)
	b := bigBatch(MaxAppendBytes / 3)
	h, err := segment.ParseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(h.RecordCount)
	var cmds [][]byte
	for range 8 { // ~2.7x MaxAppendBytes in one Update
		cmds = append(cmds, AppendCommand(nil, b, 1, 0, false))
	}
	res := update(t, p, 1, cmds...)
	for i, r := range res {
		if len(r.Data) != 0 || int64(r.Value) != int64(i)*n {
			t.Fatalf("entry %d: result %+v, want base offset %d", i, r, int64(i)*n)
		}
	}
	p.Close()
	p2, idx := openSM(t, dir)
	if idx != 8 {
		t.Fatalf("reopened at index %d, want 8", idx)
	}
	if _, end, err := p2.Offsets(); err != nil || end != 8*n {
		t.Fatalf("end offset %d (%v), want %d", end, err, 8*n)
	}
}

// TestOversizedCommandRefused: an append command over the limit (which the
// engine never proposes) is refused with a result code and its index still
// recorded, rather than failing the apply.
func TestOversizedCommandRefused(t *testing.T) {
	dir := t.TempDir()
	p, _ := openSM(t, dir)
	huge := AppendCommand(nil, make([]byte, MaxAppendBytes+1), 1, 0, false)
	ok := AppendCommand(nil, testBatch(2, 1000, -1, -1, -1), 1, 0, false)
	res := update(t, p, 1, huge, ok)
	if len(res[0].Data) == 0 || res[0].Data[0] != ResultBadCommand {
		t.Fatalf("oversized command: result %+v, want ResultBadCommand", res[0])
	}
	if len(res[1].Data) != 0 || res[1].Value != 0 {
		t.Fatalf("next command: result %+v, want base offset 0", res[1])
	}
	p.Close()
	if _, idx := openSM(t, dir); idx != 2 {
		t.Fatalf("reopened at index %d, want 2", idx)
	}
}

func TestValidateBatchesTotalLimit(t *testing.T) {
	b := bigBatch(MaxAppendBytes / 4)
	var all []byte
	for range 5 {
		all = append(all, b...)
	}
	if _, err := ValidateBatches(all, 0, nil); !errors.Is(err, errs.ErrRecordTooLarge) {
		t.Fatalf("%d bytes of batches: err %v, want ErrRecordTooLarge", len(all), err)
	}
	if _, err := ValidateBatches(all[:3*len(b)], 0, nil); err != nil {
		t.Fatalf("%d bytes of batches: %v", 3*len(b), err)
	}
}
