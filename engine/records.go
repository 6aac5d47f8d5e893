package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/segment"
)

// EncodeBatch encodes recs as one uncompressed Kafka v2 record batch with
// base offset 0 and no producer id. A zero Record.Timestamp becomes now.
func EncodeBatch(recs []Record, now time.Time) []byte {
	first := int64(-1)
	maxTs := int64(-1)
	ts := make([]int64, len(recs))
	for i, r := range recs {
		t := now.UnixMilli()
		if !r.Timestamp.IsZero() {
			t = r.Timestamp.UnixMilli()
		}
		ts[i] = t
		if first < 0 || t < first {
			first = t
		}
		maxTs = max(maxTs, t)
	}
	var raw []byte
	var body []byte
	for i, r := range recs {
		kr := kmsg.Record{TimestampDelta64: ts[i] - first, OffsetDelta: int32(i), Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		if kr.TimestampDelta64 == 0 {
			kr.TimestampDelta = 0
		}
		body = kr.AppendTo(body[:0]) // Length 0 encodes as one byte
		raw = binary.AppendVarint(raw, int64(len(body)-1))
		raw = append(raw, body[1:]...)
	}
	return segment.AppendBatch(make([]byte, 0, segment.BatchHeaderSize+len(raw)), segment.BatchHeader{
		PartitionLeaderEpoch: -1,
		LastOffsetDelta:      int32(len(recs) - 1),
		BaseTimestamp:        first,
		MaxTimestamp:         maxTs,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		BaseSequence:         -1,
		RecordCount:          int32(len(recs)),
	}, raw)
}

// Records decodes every record of r.Batches (any Kafka codec), with
// absolute offsets and timestamps. Control batches are skipped.
func (r FetchResult) Records() ([]Record, error) {
	return DecodeBatches(r.Batches)
}

// DecodeBatches decodes concatenated v2 record batches (any Kafka codec)
// into records, with absolute offsets and timestamps; control batches are
// skipped. A compressed batch's records may decompress to at most
// segment.MaxDecompressedRecords (256 MiB). On an error it returns the
// records decoded before it and an error wrapping ErrCorruptBatch, or
// ErrRecordTooLarge for records past that bound.
func DecodeBatches(b []byte) ([]Record, error) {
	var out []Record
	err := segment.EachBatch(b, func(h segment.BatchHeader, batch []byte) error {
		if h.IsControl() {
			return nil
		}
		var err error
		out, err = appendRecords(out, &h, batch)
		return err
	})
	if err != nil && !errors.Is(err, ErrCorruptBatch) && !errors.Is(err, ErrRecordTooLarge) {
		err = fmt.Errorf("%w: %w", ErrCorruptBatch, err)
	}
	return out, err
}

// appendRecords appends the records of the one batch b, whose header is h,
// to out.
func appendRecords(out []Record, h *segment.BatchHeader, b []byte) ([]Record, error) {
	raw, err := decompressRecords(h, b, segment.MaxDecompressedRecords)
	if err != nil {
		return out, fmt.Errorf("batch at offset %d: %w", h.BaseOffset, err)
	}
	for i := int32(0); i < h.RecordCount; i++ {
		n, used := binary.Varint(raw)
		if used <= 0 || n < 0 || int64(len(raw)-used) < n {
			return out, fmt.Errorf("record %d of batch at offset %d: %w", i, h.BaseOffset, ErrCorruptBatch)
		}
		var kr kmsg.Record
		if err := kr.ReadFrom(raw[:used+int(n)]); err != nil {
			return out, fmt.Errorf("record %d of batch at offset %d: %w: %v", i, h.BaseOffset, ErrCorruptBatch, err)
		}
		raw = raw[used+int(n):]
		ts := h.BaseTimestamp + kr.TimestampDelta64
		if h.LogAppendTime() {
			ts = h.MaxTimestamp
		}
		rec := Record{Key: kr.Key, Value: kr.Value, Timestamp: time.UnixMilli(ts), Offset: h.BaseOffset + int64(kr.OffsetDelta)}
		for _, hd := range kr.Headers {
			rec.Headers = append(rec.Headers, Header{Key: hd.Key, Value: hd.Value})
		}
		out = append(out, rec)
	}
	return out, nil
}

// decompressRecords returns the records section of the one batch b, whose
// header is h, decompressed if the producer compressed it, at most limit
// bytes (segment.DecompressRecords). Records past limit are
// ErrRecordTooLarge, any other failure ErrCorruptBatch.
func decompressRecords(h *segment.BatchHeader, b []byte, limit int) ([]byte, error) {
	raw, err := segment.DecompressRecords(h.Compression(), b[segment.BatchHeaderSize:], limit)
	switch {
	case err == nil:
		return raw, nil
	case errors.Is(err, segment.ErrRecordsTooLarge):
		return nil, fmt.Errorf("%w: records decompress past %d bytes", ErrRecordTooLarge, limit)
	default:
		return nil, fmt.Errorf("%w: decompress records: %v", ErrCorruptBatch, err)
	}
}
