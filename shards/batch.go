package shards

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/chronik-io/chronik/internal/errs"
)

// Kafka v2 record batch header layout (all big endian).
const (
	offBaseOffset    = 0
	offBatchLength   = 8
	offLeaderEpoch   = 12
	offMagic         = 16
	offCRC           = 17
	offAttributes    = 21
	offLastOffDelta  = 23
	offBaseTimestamp = 27
	offMaxTimestamp  = 35
	offProducerID    = 43
	offProducerEpoch = 51
	offBaseSequence  = 53
	offRecordCount   = 57
	// BatchHeaderSize is the size of a v2 batch header before its records.
	BatchHeaderSize = 61
	// batchLengthOverhead is the part of the header not counted by batchLength.
	batchLengthOverhead = 12

	attrTimestampType = 0x08 // LogAppendTime
	attrControl       = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the decoded header of one Kafka v2 record batch.
type BatchHeader struct {
	BaseOffset      int64
	Length          int // whole batch size in bytes, header included
	LeaderEpoch     int32
	Magic           int8
	CRC             uint32
	Attributes      int16
	LastOffsetDelta int32
	BaseTimestamp   int64
	MaxTimestamp    int64
	ProducerID      int64
	ProducerEpoch   int16
	BaseSequence    int32
	RecordCount     int32
}

// ParseBatchHeader decodes the header of the batch at the start of b. It
// checks only that the header and the length it announces fit in b.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	if len(b) < BatchHeaderSize {
		return BatchHeader{}, fmt.Errorf("batch header: %d bytes, need %d: %w", len(b), BatchHeaderSize, errs.ErrCorruptBatch)
	}
	n := int(int32(binary.BigEndian.Uint32(b[offBatchLength:])))
	if n < BatchHeaderSize-batchLengthOverhead || n > len(b)-batchLengthOverhead {
		return BatchHeader{}, fmt.Errorf("batch length %d with %d bytes left: %w", n, len(b), errs.ErrCorruptBatch)
	}
	return BatchHeader{
		BaseOffset:      int64(binary.BigEndian.Uint64(b[offBaseOffset:])),
		Length:          n + batchLengthOverhead,
		LeaderEpoch:     int32(binary.BigEndian.Uint32(b[offLeaderEpoch:])),
		Magic:           int8(b[offMagic]),
		CRC:             binary.BigEndian.Uint32(b[offCRC:]),
		Attributes:      int16(binary.BigEndian.Uint16(b[offAttributes:])),
		LastOffsetDelta: int32(binary.BigEndian.Uint32(b[offLastOffDelta:])),
		BaseTimestamp:   int64(binary.BigEndian.Uint64(b[offBaseTimestamp:])),
		MaxTimestamp:    int64(binary.BigEndian.Uint64(b[offMaxTimestamp:])),
		ProducerID:      int64(binary.BigEndian.Uint64(b[offProducerID:])),
		ProducerEpoch:   int16(binary.BigEndian.Uint16(b[offProducerEpoch:])),
		BaseSequence:    int32(binary.BigEndian.Uint32(b[offBaseSequence:])),
		RecordCount:     int32(binary.BigEndian.Uint32(b[offRecordCount:])),
	}, nil
}

// IsControl reports whether the batch is a transaction control batch.
func (h BatchHeader) IsControl() bool { return h.Attributes&attrControl != 0 }

// LastSequence is the sequence number of the batch's last record.
func (h BatchHeader) LastSequence() int32 {
	if h.BaseSequence < 0 {
		return -1
	}
	return int32((int64(h.BaseSequence) + int64(h.LastOffsetDelta)) % (1 << 31))
}

// MaxAppendBytes bounds the batches of one append command (one Raft entry),
// and so the largest max.message.bytes a topic may have. Update writes at
// most about this much per segment frame, well inside segment's 64 MiB frame
// limit: a committed entry the log could not store would stop the replica
// on every restart.
const MaxAppendBytes = 32 << 20

// ValidateBatches checks concatenated v2 batches as a produce request carries
// them: each is whole, magic 2, passes CRC-32C, has a record count
// consistent with its last offset delta, and is at most maxBytes long
// (0 = no limit); all of them together are at most MaxAppendBytes. It
// returns the number of batches, or an error wrapping errs.ErrCorruptBatch
// or errs.ErrRecordTooLarge. It never decodes records.
func ValidateBatches(b []byte, maxBytes int) (int, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("empty produce: %w", errs.ErrCorruptBatch)
	}
	if len(b) > MaxAppendBytes {
		return 0, fmt.Errorf("%d bytes of batches for one partition > %d: %w", len(b), MaxAppendBytes, errs.ErrRecordTooLarge)
	}
	n := 0
	for len(b) > 0 {
		h, err := ParseBatchHeader(b)
		if err != nil {
			return n, fmt.Errorf("batch %d: %w", n, err)
		}
		if h.Magic != 2 {
			return n, fmt.Errorf("batch %d: magic %d, want 2: %w", n, h.Magic, errs.ErrCorruptBatch)
		}
		if maxBytes > 0 && h.Length > maxBytes {
			return n, fmt.Errorf("batch %d: %d bytes > max.message.bytes %d: %w", n, h.Length, maxBytes, errs.ErrRecordTooLarge)
		}
		if got := crc32.Checksum(b[offAttributes:h.Length], castagnoli); got != h.CRC {
			return n, fmt.Errorf("batch %d: crc %08x, header says %08x: %w", n, got, h.CRC, errs.ErrCorruptBatch)
		}
		if h.RecordCount <= 0 || h.LastOffsetDelta != h.RecordCount-1 {
			return n, fmt.Errorf("batch %d: %d records with last offset delta %d: %w", n, h.RecordCount, h.LastOffsetDelta, errs.ErrCorruptBatch)
		}
		if h.IsControl() {
			return n, fmt.Errorf("batch %d: control batch from a producer: %w", n, errs.ErrInvalidRecord)
		}
		b = b[h.Length:]
		n++
	}
	return n, nil
}

// setBaseOffset rewrites a batch's base offset (outside the CRC).
func setBaseOffset(b []byte, off int64) { binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(off)) }

// setLeaderEpoch rewrites a batch's partition leader epoch (outside the CRC).
func setLeaderEpoch(b []byte, e int32) { binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(e)) }

// setLogAppendTime marks the batch LogAppendTime with max timestamp ts and
// recomputes its CRC, as a Kafka broker does for such topics.
func setLogAppendTime(b []byte, length int, ts int64) {
	a := binary.BigEndian.Uint16(b[offAttributes:])
	binary.BigEndian.PutUint16(b[offAttributes:], a|attrTimestampType)
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:length], castagnoli))
}
