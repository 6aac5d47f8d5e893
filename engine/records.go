package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/shards"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

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
	rb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       first,
		MaxTimestamp:         maxTs,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(recs)),
		Records:              raw,
	}
	rb.Length = int32(shards.BatchHeaderSize - 12 + len(raw))
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

// Records decodes every record of r.Batches (any Kafka codec), with
// absolute offsets and timestamps. Control batches are skipped.
func (r FetchResult) Records() ([]Record, error) {
	return DecodeBatches(r.Batches)
}

// DecodeBatches decodes concatenated v2 record batches into records.
func DecodeBatches(b []byte) ([]Record, error) {
	var out []Record
	for len(b) > 0 {
		var rb kmsg.RecordBatch
		h, err := shards.ParseBatchHeader(b)
		if err != nil {
			return out, err
		}
		if err := rb.ReadFrom(b[:h.Length]); err != nil {
			return out, fmt.Errorf("decode batch at offset %d: %w: %v", h.BaseOffset, ErrCorruptBatch, err)
		}
		b = b[h.Length:]
		if h.IsControl() {
			continue
		}
		raw, err := decompress(int(rb.Attributes&7), rb.Records)
		if err != nil {
			return out, fmt.Errorf("decompress batch at offset %d: %w: %v", h.BaseOffset, ErrCorruptBatch, err)
		}
		logAppend := rb.Attributes&0x08 != 0
		for i := int32(0); i < rb.NumRecords; i++ {
			n, used := binary.Varint(raw)
			if used <= 0 || n < 0 || int64(len(raw)-used) < n {
				return out, fmt.Errorf("record %d of batch at offset %d: %w", i, h.BaseOffset, ErrCorruptBatch)
			}
			var kr kmsg.Record
			if err := kr.ReadFrom(raw[:used+int(n)]); err != nil {
				return out, fmt.Errorf("record %d of batch at offset %d: %w: %v", i, h.BaseOffset, ErrCorruptBatch, err)
			}
			raw = raw[used+int(n):]
			ts := rb.FirstTimestamp + kr.TimestampDelta64
			if logAppend {
				ts = rb.MaxTimestamp
			}
			rec := Record{Key: kr.Key, Value: kr.Value, Timestamp: time.UnixMilli(ts), Offset: h.BaseOffset + int64(kr.OffsetDelta)}
			for _, hd := range kr.Headers {
				rec.Headers = append(rec.Headers, Header{Key: hd.Key, Value: hd.Value})
			}
			out = append(out, rec)
		}
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
