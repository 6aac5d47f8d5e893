package segment

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// clientCompress compresses a records section the way Kafka clients do.
func clientCompress(t *testing.T, codec int, recs []byte) []byte {
	var buf bytes.Buffer
	switch codec {
	case CompressionGzip:
		w := gzip.NewWriter(&buf)
		w.Write(recs)
		w.Close()
	case CompressionSnappy: // xerial framing, as the Java client, in 7-byte chunks
		buf.Write(xerialMagic)
		buf.Write([]byte{0, 0, 0, 1, 0, 0, 0, 1})
		for rem := recs; len(rem) > 0; {
			n := min(7, len(rem))
			blk := s2.EncodeSnappy(nil, rem[:n])
			buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(blk))))
			buf.Write(blk)
			rem = rem[n:]
		}
	case CompressionSnappy + 100: // raw snappy block, as some clients write it
		return s2.EncodeSnappy(nil, recs)
	case CompressionLZ4:
		w := lz4.NewWriter(&buf)
		w.Write(recs)
		w.Close()
	case CompressionZstd:
		e, _ := zstd.NewWriter(nil)
		return e.EncodeAll(recs, nil)
	}
	return buf.Bytes()
}

// TestCompressedBatchTimestamps: ListOffsets and MaxTimestamp name the exact
// record inside batches compressed by clients with every Kafka codec.
func TestCompressedBatchTimestamps(t *testing.T) {
	for _, c := range []struct {
		name  string
		codec int
	}{{"gzip", CompressionGzip}, {"snappy-xerial", CompressionSnappy}, {"snappy-raw", CompressionSnappy + 100}, {"lz4", CompressionLZ4}, {"zstd", CompressionZstd}} {
		t.Run(c.name, func(t *testing.T) {
			l := mustOpen(t, t.TempDir(), testOpts(t))
			defer l.Close()
			ts := []int64{100, 500, 300, 700, 650}
			attr := int16(c.codec % 100)
			b := finishBatch(0, attr, ts[0], 700, int32(len(ts)), int32(len(ts)-1), clientCompress(t, c.codec, testRecords(ts...)))
			if err := l.Append(b, 1, 1); err != nil {
				t.Fatal(err)
			}
			if got, off := l.MaxTimestamp(); got != 700 || off != 3 {
				t.Fatalf("MaxTimestamp = %d, %d; want 700, 3", got, off)
			}
			for _, tc := range []struct{ ts, off, got int64 }{{0, 0, 100}, {101, 1, 500}, {600, 3, 700}} {
				off, got, ok, err := l.OffsetForTimestamp(tc.ts)
				if err != nil || !ok || off != tc.off || got != tc.got {
					t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v, %v; want %d, %d", tc.ts, off, got, ok, err, tc.off, tc.got)
				}
			}
		})
	}
}
