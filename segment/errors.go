package segment

import (
	"errors"
	"fmt"
)

// Sentinel errors. package segment imports nothing of chronik's (not even
// internal/errs), so its sentinels live here; the engine maps them to its own
// (ErrCorrupt -> errs.ErrStorage, ErrOffsetOutOfRange -> errs.ErrOffsetOutOfRange).
var (
	// ErrCorrupt: a frame or index failed its checksum or is malformed in a
	// place where it cannot be a torn tail (a sealed segment, a snapshot
	// stream). Returned wrapped in a *CorruptError that names the file and the
	// byte position. Corrupt data is never served and never skipped.
	ErrCorrupt = errors.New("segment: corrupt data")
	// ErrClosed: the Log (or Checkpoint) was closed.
	ErrClosed = errors.New("segment: closed")
	// ErrOutOfOrder: an Append whose batches do not continue exactly at
	// EndOffset, or whose Raft index range does not follow LastIndex.
	ErrOutOfOrder = errors.New("segment: out of order append")
	// ErrInvalidBatch: bytes that are not a well-formed Kafka v2 record batch
	// (magic other than 2, a length that does not fit, a bad CRC).
	ErrInvalidBatch = errors.New("segment: invalid record batch")
	// ErrRecordsTooLarge: the records of a client-compressed batch
	// decompress past the limit the caller gave DecompressRecords.
	ErrRecordsTooLarge = errors.New("segment: decompressed records too large")
	// ErrFrameTooLarge: an Append larger than Options.MaxFrameBytes.
	ErrFrameTooLarge = errors.New("segment: frame too large")
	// ErrOffsetOutOfRange: a Read below StartOffset or above EndOffset.
	ErrOffsetOutOfRange = errors.New("segment: offset out of range")
	// ErrMissingSegment: Check found that a segment file the directory's
	// other files show to have existed is gone. Returned wrapped in a
	// *CorruptError with Missing set, so errors.Is(err, ErrCorrupt) holds
	// too.
	ErrMissingSegment = errors.New("segment: missing segment file")
)

// CorruptError is the error returned for ErrCorrupt: Segment is the file
// (path) and Pos the byte position of the frame or record that failed.
// Missing tells that the file (or one before it) is gone rather than damaged.
type CorruptError struct {
	Segment string
	Pos     int64
	Reason  string
	Missing bool
}

// Error describes the damage: file, byte position and reason.
func (e *CorruptError) Error() string {
	if e.Missing {
		return fmt.Sprintf("segment: missing segment file %s: %s", e.Segment, e.Reason)
	}
	return fmt.Sprintf("segment: corrupt data in %s at byte %d: %s", e.Segment, e.Pos, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true, and errors.Is(err,
// ErrMissingSegment) when Missing is set.
func (e *CorruptError) Is(target error) bool {
	return target == ErrCorrupt || (e.Missing && target == ErrMissingSegment)
}

func corruptf(file string, pos int64, format string, args ...any) error {
	return &CorruptError{Segment: file, Pos: pos, Reason: fmt.Sprintf(format, args...)}
}
