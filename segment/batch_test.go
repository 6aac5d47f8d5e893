package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// TestParseBatchHeader: the one v2 header parser accepts whole batches
// (followed by anything) and refuses every malformed header with
// ErrInvalidBatch.
func TestParseBatchHeader(t *testing.T) {
	valid := testBatch(10, 500, []byte("a"), []byte("bb"), []byte("ccc"))
	mut := func(f func(b []byte)) []byte { c := bytes.Clone(valid); f(c); return c }
	be := binary.BigEndian
	for _, tc := range []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"valid", valid, true},
		{"valid then garbage", append(bytes.Clone(valid), 0xde, 0xad), true},
		{"valid then a second batch", append(bytes.Clone(valid), valid...), true},
		{"empty", nil, false},
		{"truncated header", valid[:BatchHeaderSize-1], false},
		{"truncated records", valid[:len(valid)-1], false},
		{"magic 0", mut(func(b []byte) { b[batchMagicPos] = 0 }), false},
		{"magic 1", mut(func(b []byte) { b[batchMagicPos] = 1 }), false},
		{"magic 3", mut(func(b []byte) { b[batchMagicPos] = 3 }), false},
		{"negative length", mut(func(b []byte) { be.PutUint32(b[batchLengthPos:], 0xfffffff0) }), false},
		{"length shorter than the header", mut(func(b []byte) { be.PutUint32(b[batchLengthPos:], BatchHeaderSize-batchLengthOverhead-1) }), false},
		{"length past the end", mut(func(b []byte) { be.PutUint32(b[batchLengthPos:], uint32(len(b)-batchLengthOverhead+1)) }), false},
		{"max length", mut(func(b []byte) { be.PutUint32(b[batchLengthPos:], 1<<31-1) }), false},
		{"negative last offset delta", mut(func(b []byte) { be.PutUint32(b[batchLastDeltaPos:], 0xffffffff) }), false},
		{"negative record count", mut(func(b []byte) { be.PutUint32(b[batchRecordCountPos:], 0x80000000) }), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseBatchHeader(tc.b)
			if !tc.ok {
				if !errors.Is(err, ErrInvalidBatch) {
					t.Fatalf("err %v, want ErrInvalidBatch", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := BatchHeader{BaseOffset: 10, Length: int32(len(valid) - 12), PartitionLeaderEpoch: 7, Magic: 2,
				CRC: be.Uint32(valid[batchCRCPos:]), LastOffsetDelta: 2, BaseTimestamp: 500, MaxTimestamp: 502,
				ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, RecordCount: 3}
			if h != want {
				t.Fatalf("header\n%+v, want\n%+v", h, want)
			}
			if h.Size() != len(valid) || h.LastOffset() != 12 {
				t.Fatalf("Size %d LastOffset %d, want %d 12", h.Size(), h.LastOffset(), len(valid))
			}
			if err := h.VerifyCRC(tc.b); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestBatchHeaderFlags covers the attribute and sequence accessors.
func TestBatchHeaderFlags(t *testing.T) {
	h := BatchHeader{Attributes: 0x20 | 0x08 | CompressionZstd, BaseSequence: 1<<31 - 2, LastOffsetDelta: 3}
	if !h.IsControl() || !h.LogAppendTime() || h.Compression() != CompressionZstd {
		t.Fatalf("attributes %#x: control %v, log append time %v, compression %d", h.Attributes, h.IsControl(), h.LogAppendTime(), h.Compression())
	}
	if got := h.LastSequence(); got != 1 {
		t.Fatalf("last sequence %d, want 1 (wrapped at 2^31)", got)
	}
	h = BatchHeader{BaseSequence: -1, LastOffsetDelta: 3}
	if h.IsControl() || h.LogAppendTime() || h.Compression() != CompressionNone || h.LastSequence() != -1 {
		t.Fatalf("plain header: %+v", h)
	}
}

// TestEachBatch: batches are handed over in order, each exactly its own
// bytes (capacity included), a bad tail stops the walk with its position,
// and fn's error comes back as it is.
func TestEachBatch(t *testing.T) {
	a, b := testBatch(0, 1, []byte("x")), testBatch(1, 1, []byte("y"), []byte("z"))
	two := append(bytes.Clone(a), b...)
	var got [][]byte
	if err := EachBatch(two, func(h BatchHeader, batch []byte) error {
		if h.Size() != len(batch) || cap(batch) != len(batch) {
			t.Fatalf("batch of %d bytes (cap %d), header says %d", len(batch), cap(batch), h.Size())
		}
		got = append(got, batch)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !bytes.Equal(got[0], a) || !bytes.Equal(got[1], b) {
		t.Fatalf("batches %q", got)
	}
	n := 0
	err := EachBatch(append(bytes.Clone(two), 1, 2, 3), func(BatchHeader, []byte) error { n++; return nil })
	if !errors.Is(err, ErrInvalidBatch) || n != 2 || !bytes.Contains([]byte(err.Error()), fmt.Appendf(nil, "byte %d", len(two))) {
		t.Fatalf("trailing garbage: %d batches, %v", n, err)
	}
	stop := errors.New("stop")
	if err := EachBatch(two, func(BatchHeader, []byte) error { return stop }); err != stop {
		t.Fatalf("fn's error: %v", err)
	}
	if err := EachBatch(nil, func(BatchHeader, []byte) error { return stop }); err != nil {
		t.Fatalf("no batches: %v", err)
	}
}

// TestAppendBatch: the encoder writes what the parser reads, with a valid
// CRC, after whatever dst holds, and matches a hand-built batch exactly.
func TestAppendBatch(t *testing.T) {
	recs := testRecords(100, 300, 200)
	want := finishBatch(40, CompressionNone, 100, 300, 3, 2, recs)
	h, err := ParseBatchHeader(want)
	if err != nil {
		t.Fatal(err)
	}
	prefix := []byte("prefix")
	got := AppendBatch(bytes.Clone(prefix), BatchHeader{BaseOffset: 40, PartitionLeaderEpoch: 7, LastOffsetDelta: 2,
		BaseTimestamp: 100, MaxTimestamp: 300, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, RecordCount: 3},
		recs[:5], recs[5:])
	if !bytes.Equal(got[:len(prefix)], prefix) || !bytes.Equal(got[len(prefix):], want) {
		t.Fatalf("AppendBatch\n%x, want\n%x", got[len(prefix):], want)
	}
	// Length, Magic and CRC are computed, not copied.
	h.Length, h.Magic, h.CRC = 1, 9, 1
	again := AppendBatch(nil, h, recs)
	if !bytes.Equal(again, want) {
		t.Fatal("AppendBatch copied Length, Magic or CRC from the header")
	}
	if err := VerifyBatchCRC(AppendBatch(nil, BatchHeader{})); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
}

// clientCompressOf compresses recs with Kafka codec c (snappy: xerial
// framing in blocks of 64 KiB).
func clientCompressOf(t testing.TB, c int, recs []byte) []byte {
	var buf bytes.Buffer
	switch c {
	case CompressionGzip:
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		w.Write(recs)
		w.Close()
	case CompressionSnappy:
		buf.Write(xerialMagic)
		buf.Write([]byte{0, 0, 0, 1, 0, 0, 0, 1})
		for rem := recs; len(rem) > 0; {
			n := min(64<<10, len(rem))
			blk := s2.EncodeSnappy(nil, rem[:n])
			buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(blk))))
			buf.Write(blk)
			rem = rem[n:]
		}
	case CompressionSnappy + 100:
		return s2.EncodeSnappy(nil, recs)
	case CompressionLZ4:
		w := lz4.NewWriter(&buf)
		w.Write(recs)
		w.Close()
	case CompressionZstd:
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
		if err != nil {
			t.Fatal(err)
		}
		return e.EncodeAll(recs, nil)
	default:
		return recs
	}
	return buf.Bytes()
}

// TestDecompressRecordsLimit: every Kafka codec decompresses up to the
// caller's limit and refuses more with ErrRecordsTooLarge; damaged input
// and unknown codecs are ErrInvalidBatch.
func TestDecompressRecordsLimit(t *testing.T) {
	const limit = 64 << 10
	data := bytes.Repeat([]byte("records "), limit/8)
	for _, c := range []struct {
		name  string
		codec int
	}{{"none", CompressionNone}, {"gzip", CompressionGzip}, {"snappy-xerial", CompressionSnappy},
		{"snappy-raw", CompressionSnappy + 100}, {"lz4", CompressionLZ4}, {"zstd", CompressionZstd}} {
		t.Run(c.name, func(t *testing.T) {
			codec := c.codec % 100
			at := clientCompressOf(t, c.codec, data)
			got, err := DecompressRecords(codec, at, limit)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("records of exactly the limit: %d bytes, %v", len(got), err)
			}
			past := clientCompressOf(t, c.codec, append(bytes.Clone(data), 'x'))
			if got, err := DecompressRecords(codec, past, limit); !errors.Is(err, ErrRecordsTooLarge) || got != nil {
				t.Fatalf("one byte past the limit: %d bytes, %v", len(got), err)
			}
			if _, err := DecompressRecords(codec, clientCompressOf(t, c.codec, nil), 0); err != nil {
				t.Fatalf("empty records, limit 0: %v", err)
			}
			if codec == CompressionNone {
				return
			}
			bad := bytes.Clone(at)
			for i := len(bad) / 2; i < len(bad); i++ {
				bad[i] ^= 0x55
			}
			if got, err := DecompressRecords(codec, bad, limit); err == nil && bytes.Equal(got, data) {
				t.Fatal("damaged input decompressed to the original")
			} else if err != nil && !errors.Is(err, ErrInvalidBatch) {
				t.Fatalf("damaged input: %v, want ErrInvalidBatch", err)
			}
		})
	}
	if _, err := DecompressRecords(7, []byte("x"), limit); !errors.Is(err, ErrInvalidBatch) {
		t.Fatalf("codec 7: %v", err)
	}
	if MaxDecompressedRecords != hardMaxFrameBytes {
		t.Fatalf("MaxDecompressedRecords %d, frame bound %d", MaxDecompressedRecords, hardMaxFrameBytes)
	}
}

// TestDecompressBombBounded: a gzip bomb (64 MiB of zeros in 64 KiB) is
// refused at a 1 MiB limit having allocated a few MiB, not 64.
func TestDecompressBombBounded(t *testing.T) {
	const limit = 1 << 20
	for _, codec := range []int{CompressionGzip, CompressionLZ4, CompressionZstd, CompressionSnappy} {
		bomb := clientCompressOf(t, codec, make([]byte, 64<<20))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := DecompressRecords(codec, bomb, limit)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrRecordsTooLarge) {
			t.Fatalf("codec %d: bomb of %d bytes: %v, want ErrRecordsTooLarge", codec, len(bomb), err)
		}
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("codec %d: bomb of %d bytes refused after %.1f MiB allocated", codec, len(bomb), float64(alloc)/(1<<20))
		if alloc > 12<<20 {
			t.Fatalf("codec %d: %d MiB allocated to refuse a bomb at a 1 MiB limit", codec, alloc>>20)
		}
	}
}
