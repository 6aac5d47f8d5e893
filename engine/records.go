package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
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
// skipped. On an error it returns the records decoded before it and an
// error wrapping ErrCorruptBatch.
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
	if err != nil && !errors.Is(err, ErrCorruptBatch) {
		err = fmt.Errorf("%w: %w", ErrCorruptBatch, err)
	}
	return out, err
}

// appendRecords appends the records of the one batch b, whose header is h,
// to out.
func appendRecords(out []Record, h *segment.BatchHeader, b []byte) ([]Record, error) {
	raw, err := decompress(h.Compression(), b[segment.BatchHeaderSize:])
	if err != nil {
		return out, fmt.Errorf("decompress batch at offset %d: %w: %v", h.BaseOffset, ErrCorruptBatch, err)
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

var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// decompress undoes a Kafka batch codec: 0 none, 1 gzip, 2 snappy (raw or
// xerial-framed), 3 lz4 (frame), 4 zstd.
func decompress(codec int, b []byte) ([]byte, error) {
	switch codec {
	case 0:
		return b, nil
	case 1:
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	case 2:
		if bytes.HasPrefix(b, xerialMagic) && len(b) >= 16 {
			var out []byte
			b = b[16:]
			for len(b) >= 4 {
				n := int(binary.BigEndian.Uint32(b))
				b = b[4:]
				if n > len(b) {
					return nil, fmt.Errorf("xerial chunk of %d bytes, %d left", n, len(b))
				}
				d, err := s2.Decode(nil, b[:n])
				if err != nil {
					return nil, err
				}
				out = append(out, d...)
				b = b[n:]
			}
			return out, nil
		}
		return s2.Decode(nil, b)
	case 3:
		return io.ReadAll(lz4.NewReader(bytes.NewReader(b)))
	case 4:
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer d.Close()
		return d.DecodeAll(b, nil)
	}
	return nil, fmt.Errorf("unknown compression codec %d", codec)
}
