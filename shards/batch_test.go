package shards

import (
	"bytes"
	"errors"
	"testing"

	"github.com/chronik-io/chronik/internal/errs"
	"github.com/chronik-io/chronik/segment"
)

// TestValidateBatches: produce validation's policy on top of segment's
// parser, the summary it returns and the per-batch hook.
func TestValidateBatches(t *testing.T) {
	one := testBatch(3, 1000, -1, -1, -1)
	two := append(bytes.Clone(one), testBatch(2, 1000, 7, 0, 0)...)
	// reseal rebuilds a batch from an edited header, with a valid CRC.
	reseal := func(b []byte, edit func(h *segment.BatchHeader)) []byte {
		h, err := segment.ParseBatchHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		edit(&h)
		return segment.AppendBatch(nil, h, b[segment.BatchHeaderSize:h.Size()])
	}
	badCRC := bytes.Clone(one)
	badCRC[len(badCRC)-1] ^= 1
	badMagic := bytes.Clone(one)
	badMagic[16] = 1
	for _, tc := range []struct {
		name     string
		b        []byte
		maxBytes int
		want     error // nil: valid
		sum      BatchSummary
	}{
		{name: "one batch", b: one, sum: BatchSummary{Batches: 1, Records: 3, Bytes: len(one)}},
		{name: "two batches", b: two, sum: BatchSummary{Batches: 2, Records: 5, Bytes: len(two)}},
		{name: "at max.message.bytes", b: one, maxBytes: len(one), sum: BatchSummary{Batches: 1, Records: 3, Bytes: len(one)}},
		{name: "empty", b: nil, want: errs.ErrCorruptBatch},
		{name: "truncated", b: two[:len(two)-1], want: errs.ErrCorruptBatch},
		{name: "trailing garbage", b: append(bytes.Clone(one), 0), want: errs.ErrCorruptBatch},
		{name: "bad magic", b: badMagic, want: errs.ErrCorruptBatch},
		{name: "bad crc", b: badCRC, want: errs.ErrCorruptBatch},
		{name: "over max.message.bytes", b: one, maxBytes: len(one) - 1, want: errs.ErrRecordTooLarge},
		{name: "no records", b: reseal(one, func(h *segment.BatchHeader) { h.RecordCount, h.LastOffsetDelta = 0, 0 }), want: errs.ErrCorruptBatch},
		{name: "count vs last offset delta", b: reseal(one, func(h *segment.BatchHeader) { h.LastOffsetDelta = 5 }), want: errs.ErrCorruptBatch},
		{name: "control batch", b: reseal(one, func(h *segment.BatchHeader) { h.Attributes |= 0x20 }), want: errs.ErrInvalidRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := 0
			sum, err := ValidateBatches(tc.b, tc.maxBytes, func(h segment.BatchHeader, batch []byte) error {
				seen += len(batch)
				return nil
			})
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil || sum != tc.sum || seen != len(tc.b) {
				t.Fatalf("summary %+v (%v), hook saw %d bytes; want %+v", sum, err, seen, tc.sum)
			}
		})
	}
	stop := errors.New("refused by the caller")
	calls := 0
	_, err := ValidateBatches(two, 0, func(h segment.BatchHeader, _ []byte) error {
		calls++
		if h.ProducerID == 7 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 2 {
		t.Fatalf("hook error: %v after %d calls", err, calls)
	}
}
