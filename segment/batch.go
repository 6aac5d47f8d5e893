package segment

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// This file is chronik's one codec of the Kafka v2 record batch header: the
// produce validation (shards.ValidateBatches), the partition state machine,
// the engine's record decoding and compaction, and this package's log all
// parse and write batch headers through it.

// Kafka v2 record batch header layout (big-endian), as on the wire.
const (
	batchBaseOffsetPos    = 0
	batchLengthPos        = 8
	batchLeaderEpochPos   = 12
	batchMagicPos         = 16
	batchCRCPos           = 17
	batchAttributesPos    = 21
	batchLastDeltaPos     = 23
	batchBaseTimestampPos = 27
	batchMaxTimestampPos  = 35
	batchProducerIDPos    = 43
	batchProducerEpochPos = 51
	batchBaseSequencePos  = 53
	batchRecordCountPos   = 57
	// BatchHeaderSize is the size of a v2 record batch header, the bytes
	// before its first record (61).
	BatchHeaderSize = 61
	// batchLengthOverhead: the header bytes the Length field does not count
	// (the base offset and the Length field itself).
	batchLengthOverhead = 12
	// batchMagic is the only record batch format chronik accepts.
	batchMagic = 2

	// attribute bits
	attrCompressionMask = 0x07
	attrTimestampType   = 0x08
	attrControl         = 0x20
)

// Kafka's batch compression codecs, attribute bits 0-2 of a batch
// (BatchHeader.Compression), as DecompressRecords takes them.
const (
	// CompressionNone: the records are stored as they are.
	CompressionNone = 0
	// CompressionGzip: gzip (RFC 1952), possibly several members.
	CompressionGzip = 1
	// CompressionSnappy: a raw snappy block, or the Java client's xerial
	// framing of snappy blocks.
	CompressionSnappy = 2
	// CompressionLZ4: an LZ4 frame.
	CompressionLZ4 = 3
	// CompressionZstd: zstd frames.
	CompressionZstd = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the fixed 61-byte header of a Kafka v2 record batch, with
// the field names of Kafka's protocol documentation. Length is the wire
// field; Size is the whole batch.
type BatchHeader struct {
	// BaseOffset is the offset of the batch's first record.
	BaseOffset int64
	// Length is the wire field: the batch's bytes after it, that is
	// Size() - 12. Use Size for the batch's extent.
	Length int32
	// PartitionLeaderEpoch is the leader epoch the broker wrote it under.
	PartitionLeaderEpoch int32
	// Magic is the batch format version; ParseBatchHeader accepts only 2.
	Magic int8
	// CRC is the CRC-32C (Castagnoli) of the bytes from Attributes to the
	// end of the batch, as stored in the batch.
	CRC uint32
	// Attributes holds the compression codec (bits 0-2), the timestamp type
	// (bit 3), the transactional (bit 4) and control (bit 5) flags.
	Attributes int16
	// LastOffsetDelta is the offset of the batch's last record minus
	// BaseOffset.
	LastOffsetDelta int32
	// BaseTimestamp is the timestamp of the first record (Unix ms); record
	// timestamps are deltas from it.
	BaseTimestamp int64
	// MaxTimestamp is the largest record timestamp, or the broker's append
	// time for LogAppendTime batches (Unix ms).
	MaxTimestamp int64
	// ProducerID is the idempotent producer's id, -1 for none.
	ProducerID int64
	// ProducerEpoch is the idempotent producer's epoch, -1 for none.
	ProducerEpoch int16
	// BaseSequence is the sequence number of the first record, -1 for none.
	BaseSequence int32
	// RecordCount is the number of records the batch holds.
	RecordCount int32
}

// Size is the whole batch's size in bytes, header included (Length + 12).
func (h *BatchHeader) Size() int { return int(h.Length) + batchLengthOverhead }

// LastOffset is BaseOffset + LastOffsetDelta, the offset of the batch's last
// record; the next batch starts at LastOffset() + 1.
func (h *BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Compression is the client codec in attribute bits 0-2 (CompressionNone,
// CompressionGzip, ...).
func (h *BatchHeader) Compression() int { return int(h.Attributes) & attrCompressionMask }

// LogAppendTime reports attribute bit 3 (timestamps are broker time).
func (h *BatchHeader) LogAppendTime() bool { return h.Attributes&attrTimestampType != 0 }

// IsControl reports attribute bit 5: a transaction control batch, written
// by brokers, never by producers.
func (h *BatchHeader) IsControl() bool { return h.Attributes&attrControl != 0 }

// LastSequence is the sequence number of the batch's last record (sequences
// wrap at 2^31), or -1 when the batch has no sequence.
func (h *BatchHeader) LastSequence() int32 {
	if h.BaseSequence < 0 {
		return -1
	}
	return int32((int64(h.BaseSequence) + int64(h.LastOffsetDelta)) % (1 << 31))
}

// VerifyCRC checks the CRC-32C of the batch h was parsed from, at the start
// of b (which ParseBatchHeader found to hold at least h.Size() bytes). Errors
// wrap ErrInvalidBatch.
func (h *BatchHeader) VerifyCRC(b []byte) error {
	if got := crc32.Checksum(b[batchAttributesPos:h.Size()], castagnoli); got != h.CRC {
		return fmt.Errorf("%w: crc %08x, computed %08x", ErrInvalidBatch, h.CRC, got)
	}
	return nil
}

// ParseBatchHeader decodes the header of the batch at the start of b, which
// may be followed by more bytes (the next batches). It checks the magic byte
// (2), that Length covers at least the header, that the whole batch fits in
// b (b[:h.Size()] is the batch), and that LastOffsetDelta and RecordCount
// are not negative. It does not verify the CRC (VerifyCRC) and never looks
// at the records. Errors wrap ErrInvalidBatch.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	var h BatchHeader
	if len(b) < BatchHeaderSize {
		return h, fmt.Errorf("%w: %d bytes, shorter than a batch header", ErrInvalidBatch, len(b))
	}
	h.BaseOffset = int64(binary.BigEndian.Uint64(b[batchBaseOffsetPos:]))
	h.Length = int32(binary.BigEndian.Uint32(b[batchLengthPos:]))
	h.PartitionLeaderEpoch = int32(binary.BigEndian.Uint32(b[batchLeaderEpochPos:]))
	h.Magic = int8(b[batchMagicPos])
	h.CRC = binary.BigEndian.Uint32(b[batchCRCPos:])
	h.Attributes = int16(binary.BigEndian.Uint16(b[batchAttributesPos:]))
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(b[batchLastDeltaPos:]))
	h.BaseTimestamp = int64(binary.BigEndian.Uint64(b[batchBaseTimestampPos:]))
	h.MaxTimestamp = int64(binary.BigEndian.Uint64(b[batchMaxTimestampPos:]))
	h.ProducerID = int64(binary.BigEndian.Uint64(b[batchProducerIDPos:]))
	h.ProducerEpoch = int16(binary.BigEndian.Uint16(b[batchProducerEpochPos:]))
	h.BaseSequence = int32(binary.BigEndian.Uint32(b[batchBaseSequencePos:]))
	h.RecordCount = int32(binary.BigEndian.Uint32(b[batchRecordCountPos:]))
	if h.Magic != batchMagic {
		return h, fmt.Errorf("%w: magic %d, want 2", ErrInvalidBatch, h.Magic)
	}
	if int(h.Length) < BatchHeaderSize-batchLengthOverhead {
		return h, fmt.Errorf("%w: length %d shorter than the header", ErrInvalidBatch, h.Length)
	}
	if h.Size() > len(b) {
		return h, fmt.Errorf("%w: length %d, only %d bytes present", ErrInvalidBatch, h.Length, len(b)-batchLengthOverhead)
	}
	if h.LastOffsetDelta < 0 || h.RecordCount < 0 {
		return h, fmt.Errorf("%w: negative last offset delta %d or record count %d", ErrInvalidBatch, h.LastOffsetDelta, h.RecordCount)
	}
	return h, nil
}

// SplitBatches splits concatenated v2 record batches. Each returned slice
// aliases b. Every header is validated as in ParseBatchHeader; trailing bytes
// that are not a whole batch are an error.
func SplitBatches(b []byte) ([][]byte, error) {
	var out [][]byte
	err := EachBatch(b, func(h BatchHeader, batch []byte) error {
		out = append(out, batch)
		return nil
	})
	return out, err
}

// EachBatch calls fn for every batch of the concatenated batches b, in order,
// with its parsed header and its bytes (b[pos:pos+h.Size()], aliasing b). It
// stops at the first error, from parsing (wrapping ErrInvalidBatch, with the
// batch's byte position) or from fn (returned as is). It allocates nothing.
func EachBatch(b []byte, fn func(h BatchHeader, batch []byte) error) error {
	for pos := 0; pos < len(b); {
		h, err := ParseBatchHeader(b[pos:])
		if err != nil {
			return fmt.Errorf("batch at byte %d: %w", pos, err)
		}
		n := h.Size()
		if err := fn(h, b[pos:pos+n:pos+n]); err != nil {
			return err
		}
		pos += n
	}
	return nil
}

// VerifyBatchCRC parses the batch at the start of b and checks its CRC-32C
// (Castagnoli), which covers the bytes from the attributes to the end of the
// batch. Errors wrap ErrInvalidBatch.
func VerifyBatchCRC(b []byte) error {
	h, err := ParseBatchHeader(b)
	if err != nil {
		return err
	}
	return h.VerifyCRC(b)
}

// AppendBatch appends to dst a v2 record batch with h's header fields and
// the concatenation of records as its records section, and returns the
// extended slice. It writes magic 2 and computes Length and the CRC-32C
// itself (h.Length, h.Magic and h.CRC are ignored); RecordCount and
// LastOffsetDelta are written as given, so they must describe records.
func AppendBatch(dst []byte, h BatchHeader, records ...[]byte) []byte {
	n := 0
	for _, r := range records {
		n += len(r)
	}
	start := len(dst)
	be := binary.BigEndian
	dst = be.AppendUint64(dst, uint64(h.BaseOffset))
	dst = be.AppendUint32(dst, uint32(BatchHeaderSize-batchLengthOverhead+n))
	dst = be.AppendUint32(dst, uint32(h.PartitionLeaderEpoch))
	dst = append(dst, batchMagic)
	dst = be.AppendUint32(dst, 0) // CRC, below
	dst = be.AppendUint16(dst, uint16(h.Attributes))
	dst = be.AppendUint32(dst, uint32(h.LastOffsetDelta))
	dst = be.AppendUint64(dst, uint64(h.BaseTimestamp))
	dst = be.AppendUint64(dst, uint64(h.MaxTimestamp))
	dst = be.AppendUint64(dst, uint64(h.ProducerID))
	dst = be.AppendUint16(dst, uint16(h.ProducerEpoch))
	dst = be.AppendUint32(dst, uint32(h.BaseSequence))
	dst = be.AppendUint32(dst, uint32(h.RecordCount))
	for _, r := range records {
		dst = append(dst, r...)
	}
	UpdateBatchCRC(dst[start:])
	return dst
}

// UpdateBatchCRC recomputes and stores the CRC of the one batch at the start
// of b (after changing a covered field: attributes, timestamps, producer
// fields, records). b must hold the whole batch its Length field announces.
func UpdateBatchCRC(b []byte) {
	n := int(int32(binary.BigEndian.Uint32(b[batchLengthPos:]))) + batchLengthOverhead
	binary.BigEndian.PutUint32(b[batchCRCPos:], crc32.Checksum(b[batchAttributesPos:n], castagnoli))
}

// SetBaseOffset rewrites the batch's base offset (not covered by the CRC).
func SetBaseOffset(b []byte, off int64) {
	binary.BigEndian.PutUint64(b[batchBaseOffsetPos:], uint64(off))
}

// SetPartitionLeaderEpoch rewrites the batch's partition leader epoch (not
// covered by the CRC).
func SetPartitionLeaderEpoch(b []byte, e int32) {
	binary.BigEndian.PutUint32(b[batchLeaderEpochPos:], uint32(e))
}

// SetMaxTimestamp rewrites the batch's max timestamp and recomputes the CRC.
func SetMaxTimestamp(b []byte, ts int64) {
	binary.BigEndian.PutUint64(b[batchMaxTimestampPos:], uint64(ts))
	UpdateBatchCRC(b)
}

// SetLogAppendTime applies Kafka's LogAppendTime to the batch as the Kafka
// broker does: it sets attribute bit 3 and the max timestamp to ts, then
// recomputes the CRC. Records are not touched: with LogAppendTime readers use
// the batch's max timestamp for every record.
func SetLogAppendTime(b []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(b[batchAttributesPos:])
	binary.BigEndian.PutUint16(b[batchAttributesPos:], attrs|attrTimestampType)
	binary.BigEndian.PutUint64(b[batchMaxTimestampPos:], uint64(ts))
	UpdateBatchCRC(b)
}
