package segment

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

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
	batchNumRecordsPos    = 57
	// BatchHeaderSize is the size of a v2 record batch header (61 bytes).
	BatchHeaderSize = 61
	// batchLengthOverhead: bytes before and including the length field.
	batchLengthOverhead = 12

	// attribute bits
	attrCompressionMask = 0x07
	attrTimestampType   = 0x08
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the fixed header of a Kafka v2 record batch.
type BatchHeader struct {
	BaseOffset           int64
	Length               int32 // bytes after the Length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Size is the whole batch's size in bytes (Length + 12).
func (h *BatchHeader) Size() int { return int(h.Length) + batchLengthOverhead }

// LastOffset is BaseOffset + LastOffsetDelta.
func (h *BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Compression is the client codec in attribute bits 0-2 (0 = none).
func (h *BatchHeader) Compression() int { return int(h.Attributes) & attrCompressionMask }

// LogAppendTime reports attribute bit 3 (timestamps are broker time).
func (h *BatchHeader) LogAppendTime() bool { return h.Attributes&attrTimestampType != 0 }

// ParseBatchHeader decodes the header of the batch at the start of b. It
// checks the magic byte (2), that Length covers at least the header, that the
// whole batch fits in b, and that LastOffsetDelta and NumRecords are not
// negative. Errors wrap ErrInvalidBatch.
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
	h.NumRecords = int32(binary.BigEndian.Uint32(b[batchNumRecordsPos:]))
	if h.Magic != 2 {
		return h, fmt.Errorf("%w: magic %d, want 2", ErrInvalidBatch, h.Magic)
	}
	if int(h.Length) < BatchHeaderSize-batchLengthOverhead {
		return h, fmt.Errorf("%w: length %d shorter than the header", ErrInvalidBatch, h.Length)
	}
	if h.Size() > len(b) {
		return h, fmt.Errorf("%w: length %d, only %d bytes present", ErrInvalidBatch, h.Length, len(b)-batchLengthOverhead)
	}
	if h.LastOffsetDelta < 0 || h.NumRecords < 0 {
		return h, fmt.Errorf("%w: negative last offset delta %d or record count %d", ErrInvalidBatch, h.LastOffsetDelta, h.NumRecords)
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
// with its parsed header and its bytes (aliasing b). It stops at the first
// error, from parsing or from fn. No allocation.
func EachBatch(b []byte, fn func(h BatchHeader, batch []byte) error) error {
	for pos := 0; pos < len(b); {
		h, err := ParseBatchHeader(b[pos:])
		if err != nil {
			return fmt.Errorf("batch at byte %d: %w", pos, err)
		}
		n := h.Size()
		if err := fn(h, b[pos:pos+n]); err != nil {
			return err
		}
		pos += n
	}
	return nil
}

// VerifyBatchCRC checks the CRC-32C (Castagnoli) of the one batch in b, which
// covers the bytes from the attributes to the end of the batch.
func VerifyBatchCRC(b []byte) error {
	h, err := ParseBatchHeader(b)
	if err != nil {
		return err
	}
	if got := crc32.Checksum(b[batchAttributesPos:h.Size()], castagnoli); got != h.CRC {
		return fmt.Errorf("%w: crc %08x, computed %08x", ErrInvalidBatch, h.CRC, got)
	}
	return nil
}

// UpdateBatchCRC recomputes and stores the CRC of the one batch in b (after
// changing a covered field: attributes, timestamps, producer fields).
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
