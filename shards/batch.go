package shards

import (
	"fmt"

	"github.com/chronik-io/chronik/internal/errs"
	"github.com/chronik-io/chronik/segment"
)

// MaxAppendBytes bounds the batches of one append command (one Raft entry),
// and so the largest max.message.bytes a topic may have. Update writes at
// most about this much per segment frame, well inside segment's 64 MiB frame
// limit: a committed entry the log could not store would stop the replica
// on every restart.
const MaxAppendBytes = 32 << 20

// BatchSummary is what ValidateBatches learned of a produce's batches from
// their headers, so that the produce path (the engine's hooks) need not
// parse them again.
type BatchSummary struct {
	// Batches is the number of batches.
	Batches int
	// Records is the sum of the batches' record counts.
	Records int
	// Bytes is the size of all the batches.
	Bytes int
}

// ValidateBatches checks concatenated v2 batches as a produce request carries
// them: each is whole and magic 2 (segment.ParseBatchHeader), passes
// CRC-32C, has a record count consistent with its last offset delta, is at
// most maxBytes long (0 = no limit) and is not a control batch; all of them
// together are at most MaxAppendBytes. Each header is parsed once. If each
// is not nil it is called, in order, with every batch that passed and its
// header, so that a caller's own per-batch check (the engine's key check
// for compacted topics) needs no second parse; its error ends the walk and
// is returned wrapped with the batch's index. ValidateBatches never decodes
// records and allocates nothing.
//
// It returns the batches' summary, or (with Batches the index of the batch
// that failed) an error wrapping errs.ErrCorruptBatch
// (and segment.ErrInvalidBatch for a malformed header), errs.ErrRecordTooLarge
// or errs.ErrInvalidRecord (a control batch).
func ValidateBatches(b []byte, maxBytes int, each func(h segment.BatchHeader, batch []byte) error) (BatchSummary, error) {
	var s BatchSummary
	if len(b) == 0 {
		return s, fmt.Errorf("empty produce: %w", errs.ErrCorruptBatch)
	}
	if len(b) > MaxAppendBytes {
		return s, fmt.Errorf("%d bytes of batches for one partition > %d: %w", len(b), MaxAppendBytes, errs.ErrRecordTooLarge)
	}
	for pos := 0; pos < len(b); {
		h, err := segment.ParseBatchHeader(b[pos:])
		if err != nil {
			return s, fmt.Errorf("batch %d at byte %d: %w: %w", s.Batches, pos, errs.ErrCorruptBatch, err)
		}
		n := h.Size()
		if maxBytes > 0 && n > maxBytes {
			return s, fmt.Errorf("batch %d: %d bytes > max.message.bytes %d: %w", s.Batches, n, maxBytes, errs.ErrRecordTooLarge)
		}
		if err := h.VerifyCRC(b[pos:]); err != nil {
			return s, fmt.Errorf("batch %d: %w: %w", s.Batches, errs.ErrCorruptBatch, err)
		}
		if h.RecordCount <= 0 || h.LastOffsetDelta != h.RecordCount-1 {
			return s, fmt.Errorf("batch %d: %d records with last offset delta %d: %w", s.Batches, h.RecordCount, h.LastOffsetDelta, errs.ErrCorruptBatch)
		}
		if h.IsControl() {
			return s, fmt.Errorf("batch %d: control batch from a producer: %w", s.Batches, errs.ErrInvalidRecord)
		}
		if each != nil {
			if err := each(h, b[pos:pos+n:pos+n]); err != nil {
				return s, fmt.Errorf("batch %d: %w", s.Batches, err)
			}
		}
		s.Batches++
		s.Records += int(h.RecordCount)
		pos += n
	}
	s.Bytes = len(b)
	return s, nil
}
