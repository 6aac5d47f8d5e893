package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// Fuzz targets for every decoder of the package. Seeds live in
// testdata/fuzz/<target>/ (written by TestWriteFuzzSeeds with
// SEGMENT_WRITE_SEEDS=1): empty, valid, truncated, valid followed by
// garbage, and maximum-length headers. Run one with
// go test -run '^$' -fuzz '^FuzzReadFrame$' -fuzztime 30s ./segment/

// seedLog builds a small valid log and returns its directory.
func seedLog(t testing.TB, codec Codec) (string, *Log) {
	o := &Options{SegmentBytes: 1 << 10, IndexIntervalBytes: 1, ActiveCodec: codec, ActiveCodecSet: true, DisableBackgroundRewrite: true}
	dir := t.TempDir()
	l, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, rand.New(rand.NewPCG(11, 11)), kindJSON, 6, 2, 2, 30)
	if err := l.Append(nil, l.LastIndex()+1, l.LastIndex()+1); err != nil {
		t.Fatal(err)
	}
	return dir, l
}

// validFrame returns the bytes of one valid frame of codec c.
func validFrame(t testing.TB, c Codec) []byte {
	dir, l := seedLog(t, c)
	l.Close()
	b, err := os.ReadFile(filepath.Join(dir, segmentName(0)+logSuffix))
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseFrameHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	return b[:h.size()]
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{})
	for _, c := range []Codec{CodecNone, CodecZstd, CodecS2, CodecLZ4} {
		v := validFrame(f, c)
		f.Add(v)
		f.Add(v[:len(v)-1])
		f.Add(append(bytes.Clone(v), "garbage"...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, stored, err := readFrame(bytes.NewReader(data), 0, int64(len(data)))
		if err != nil {
			return
		}
		if h.size() > int64(len(data)) || len(stored) != int(h.StoredLen) {
			t.Fatalf("frame of %d bytes read from %d", h.size(), len(data))
		}
		payload, err := decodeFramePayload(&h, stored)
		if err != nil {
			return
		}
		if len(payload) != int(h.OrigLen) {
			t.Fatalf("payload %d bytes, header says %d", len(payload), h.OrigLen)
		}
		// A frame that verifies must re-encode to the same bytes.
		out := make([]byte, frameHeaderSize, h.size())
		out = append(out, stored...)
		putFrameHeader(out, &h)
		if sealFrame(out) != h.CRC || !bytes.Equal(out, data[:h.size()]) {
			t.Fatal("verified frame does not re-encode to its bytes")
		}
	})
}

// FuzzOpen opens a directory whose active segment (and meta file) hold the
// fuzzer's bytes: Open must not panic, must keep only whole verified frames
// (the file is cut to them), and everything it then reports must be readable.
func FuzzOpen(f *testing.F) {
	dir, l := seedLog(f, CodecS2)
	st := logState{Start: 2, End: 24, LastIndex: 7}.encode()
	l.Close()
	names, err := OSFS{}.List(dir)
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range names {
		if _, ok := parseSegmentName(name); !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || len(b) < 4 {
			continue
		}
		f.Add(b, []byte{})
		f.Add(b, st)
		f.Add(b[:len(b)-3], st)
		f.Add(append(bytes.Clone(b), 0xff, 0, 1), []byte{})
	}
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, data, meta []byte) {
		// The in-memory FS keeps the fuzzer fast; Open sees the same bytes.
		fsys, dir := newMemFS(), "/p"
		fsys.MkdirAll(dir, 0o755)
		put := func(name string, b []byte) {
			w, err := fsys.Create(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			w.WriteAt(b, 0)
		}
		put(segmentName(0)+logSuffix, data)
		if len(meta) > 0 {
			put(metaFileName, meta)
		}
		l, err := Open(dir, &Options{FS: fsys, DisableBackgroundRewrite: true, CacheBytes: -1})
		if err != nil {
			return
		}
		defer l.Close()
		if l.Size() > int64(len(data)) || l.StartOffset() > l.EndOffset() {
			t.Fatalf("size %d from %d bytes, start %d end %d", l.Size(), len(data), l.StartOffset(), l.EndOffset())
		}
		for off := l.StartOffset(); off < l.EndOffset(); {
			b, err := l.Read(off, 1)
			if err != nil {
				t.Fatalf("Read(%d) of a recovered log: %v", off, err)
			}
			h, err := ParseBatchHeader(b)
			if err != nil || h.LastOffset() < off {
				t.Fatalf("Read(%d) returned a bad batch: %v", off, err)
			}
			off = h.LastOffset() + 1
		}
	})
}

// FuzzRestore feeds snapshot streams to Restore: no panic, and a stream it
// accepts opens as a consistent log.
func FuzzRestore(f *testing.F) {
	_, l := seedLog(f, CodecNone)
	cp, err := l.Checkpoint()
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := cp.WriteTo(&buf); err != nil {
		f.Fatal(err)
	}
	cp.Close()
	l.Close()
	s := buf.Bytes()
	f.Add([]byte{})
	f.Add(s)
	f.Add(s[:len(s)/2])
	f.Add(append(bytes.Clone(s), 1, 2, 3))
	f.Add(s[:streamHdrSize])
	f.Fuzz(func(t *testing.T, stream []byte) {
		fsys, dir := newMemFS(), "/p"
		if err := Restore(dir, bytes.NewReader(stream), &Options{FS: fsys}); err != nil {
			return
		}
		l, err := Open(dir, &Options{FS: fsys, DisableBackgroundRewrite: true})
		if err != nil {
			t.Fatalf("restored log does not open: %v", err)
		}
		defer l.Close()
		readAll(t, l, 1<<20)
	})
}

// FuzzSplitBatches: batch header parsing never panics and never returns a
// batch outside its input.
func FuzzSplitBatches(f *testing.F) {
	b := append(testBatch(0, 1, []byte("a")), testBatch(1, 2, []byte("b"), []byte("c"))...)
	f.Add([]byte{})
	f.Add(b)
	f.Add(b[:len(b)-1])
	f.Add(append(bytes.Clone(b), 9))
	f.Fuzz(func(t *testing.T, data []byte) {
		parts, err := SplitBatches(data)
		n := 0
		for _, p := range parts {
			n += len(p)
		}
		if n > len(data) || (err == nil && n != len(data)) {
			t.Fatalf("batches cover %d of %d bytes (err %v)", n, len(data), err)
		}
		for _, p := range parts {
			VerifyBatchCRC(p)
		}
	})
}

// batchSeeds are the seeds of the batch codec's fuzz targets: empty,
// truncated, valid, valid followed by garbage, a header announcing the
// largest length.
func batchSeeds() map[string][]byte {
	b := append(testBatch(0, 1, []byte("a")), testBatch(1, 2, []byte("b"), []byte("c"))...)
	maxLen := bytes.Clone(b[:BatchHeaderSize])
	binary.BigEndian.PutUint32(maxLen[batchLengthPos:], 1<<31-1)
	return map[string][]byte{
		"empty":      {},
		"truncated":  b[:len(b)-1],
		"header":     b[:BatchHeaderSize],
		"valid":      b,
		"garbage":    append(bytes.Clone(b), 9),
		"max-length": maxLen,
	}
}

// FuzzParseBatchHeader: the header parser never panics; a header it accepts
// describes a batch inside the input, and re-encoding it with AppendBatch
// gives back the batch's bytes exactly when its CRC holds.
func FuzzParseBatchHeader(f *testing.F) {
	for _, b := range batchSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseBatchHeader(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidBatch) {
				t.Fatalf("error %v does not wrap ErrInvalidBatch", err)
			}
			return
		}
		if h.Size() < BatchHeaderSize || h.Size() > len(data) || h.Magic != 2 || h.RecordCount < 0 || h.LastOffsetDelta < 0 {
			t.Fatalf("accepted header %+v of a %d-byte input", h, len(data))
		}
		if h.VerifyCRC(data) != nil {
			return
		}
		if again := AppendBatch(nil, h, data[BatchHeaderSize:h.Size()]); !bytes.Equal(again, data[:h.Size()]) {
			t.Fatalf("AppendBatch of the parsed header\n%x, input\n%x", again, data[:h.Size()])
		}
	})
}

// FuzzEachBatch: the walk never panics, hands over contiguous batches that
// stay inside the input (capacity included), and covers all of it when it
// returns no error.
func FuzzEachBatch(f *testing.F) {
	for _, b := range batchSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		covered := 0
		err := EachBatch(data, func(h BatchHeader, batch []byte) error {
			if len(batch) != h.Size() || cap(batch) != len(batch) || covered+len(batch) > len(data) ||
				&batch[0] != &data[covered] {
				t.Fatalf("batch of %d bytes (cap %d) at %d of %d, header size %d", len(batch), cap(batch), covered, len(data), h.Size())
			}
			covered += len(batch)
			return nil
		})
		if err == nil && covered != len(data) {
			t.Fatalf("no error, %d of %d bytes covered", covered, len(data))
		}
		if err != nil && !errors.Is(err, ErrInvalidBatch) {
			t.Fatalf("error %v does not wrap ErrInvalidBatch", err)
		}
	})
}

// FuzzDecompressRecords: no input panics a client codec's decoder or gets
// past the limit.
func FuzzDecompressRecords(f *testing.F) {
	recs := testRecords(1, 2, 3)
	for _, c := range []int{CompressionNone, CompressionGzip, CompressionSnappy, CompressionSnappy + 100, CompressionLZ4, CompressionZstd} {
		z := clientCompressOf(f, c, recs)
		f.Add(c%100, z, 1024)
		f.Add(c%100, z[:len(z)/2], 1024)
		f.Add(c%100, z, len(recs)-1)
	}
	f.Add(CompressionGzip, clientCompressOf(f, CompressionGzip, make([]byte, 1<<20)), 4096)
	f.Fuzz(func(t *testing.T, codec int, src []byte, limit int) {
		limit = min(max(limit, 0), 1<<20)
		out, err := DecompressRecords(codec, src, limit)
		if err == nil && len(out) > limit {
			t.Fatalf("%d bytes out, limit %d", len(out), limit)
		}
		if err != nil && !errors.Is(err, ErrInvalidBatch) && !errors.Is(err, ErrRecordsTooLarge) {
			t.Fatalf("error %v wraps neither ErrInvalidBatch nor ErrRecordsTooLarge", err)
		}
	})
}

// FuzzDecodeIndexes: index files never panic the decoder, and what it
// accepts is ordered.
func FuzzDecodeIndexes(f *testing.F) {
	m := newSegMeta(10)
	m.End, m.Size, m.LastPos, m.LastIndex = 20, 500, 400, 3
	oi, ti := encodeIndexes(&m, []indexEntry{{10, 0, -1}, {15, 200, 7}})
	f.Add(oi, ti)
	f.Add(oi[:len(oi)-1], ti)
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, oi, ti []byte) {
		m, idx, err := decodeIndexes(oi, ti)
		if err != nil {
			return
		}
		for i := 1; i < len(idx); i++ {
			if idx[i].Pos <= idx[i-1].Pos || idx[i].Offset <= idx[i-1].Offset {
				t.Fatal("accepted unordered entries")
			}
		}
		if m.End < m.Base {
			t.Fatal("accepted end below base")
		}
	})
}

// TestWriteFuzzSeeds writes the seed corpus files under testdata/fuzz when
// SEGMENT_WRITE_SEEDS=1 (they are committed; the f.Add seeds above are the
// same inputs, so the targets work without them too).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("SEGMENT_WRITE_SEEDS") != "1" {
		t.Skip("set SEGMENT_WRITE_SEEDS=1 to regenerate testdata/fuzz")
	}
	write := func(target, name string, args ...any) {
		d := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		s := "go test fuzz v1\n"
		for _, a := range args {
			switch a := a.(type) {
			case []byte:
				s += fmt.Sprintf("[]byte(%q)\n", a)
			case int64:
				s += fmt.Sprintf("int64(%d)\n", a)
			}
		}
		if err := os.WriteFile(filepath.Join(d, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("FuzzReadFrame", "empty", []byte{})
	for _, c := range []Codec{CodecNone, CodecZstd, CodecS2, CodecLZ4} {
		v := validFrame(t, c)
		write("FuzzReadFrame", "valid-"+c.String(), v)
		write("FuzzReadFrame", "truncated-"+c.String(), v[:len(v)-1])
		write("FuzzReadFrame", "garbage-after-"+c.String(), append(bytes.Clone(v), "garbage"...))
	}
	maxHdr := make([]byte, frameHeaderSize)
	putFrameHeader(maxHdr, &frameHeader{Codec: CodecZstd, BaseOffset: 0, LastOffset: 1 << 40, StoredLen: hardMaxFrameBytes, OrigLen: hardMaxFrameBytes})
	write("FuzzReadFrame", "max-length-header", maxHdr)
	dir, l := seedLog(t, CodecS2)
	l.Close()
	seg, _ := os.ReadFile(filepath.Join(dir, segmentName(0)+logSuffix))
	st := logState{Start: 2, End: 24, LastIndex: 7}.encode()
	write("FuzzOpen", "empty", []byte{}, []byte{})
	write("FuzzOpen", "valid", seg, []byte{})
	write("FuzzOpen", "valid-with-state", seg, st)
	write("FuzzOpen", "torn", seg[:len(seg)-3], st)
	write("FuzzOpen", "garbage-after", append(bytes.Clone(seg), 0xff, 0, 1), []byte{})
	write("FuzzOpen", "max-length-header", maxHdr, []byte{})
	_, l = seedLog(t, CodecNone)
	cp, _ := l.Checkpoint()
	var buf bytes.Buffer
	cp.WriteTo(&buf)
	cp.Close()
	l.Close()
	s := buf.Bytes()
	write("FuzzRestore", "empty", []byte{})
	write("FuzzRestore", "valid", s)
	write("FuzzRestore", "truncated", s[:len(s)/2])
	write("FuzzRestore", "garbage-after", append(bytes.Clone(s), 1, 2, 3))
	b := append(testBatch(0, 1, []byte("a")), testBatch(1, 2, []byte("b"), []byte("c"))...)
	write("FuzzSplitBatches", "empty", []byte{})
	write("FuzzSplitBatches", "valid", b)
	write("FuzzSplitBatches", "truncated", b[:len(b)-1])
	write("FuzzSplitBatches", "garbage-after", append(bytes.Clone(b), 9))
	for name, sb := range batchSeeds() {
		write("FuzzParseBatchHeader", name, sb)
		write("FuzzEachBatch", name, sb)
	}
	m := newSegMeta(10)
	m.End, m.Size, m.LastPos, m.LastIndex = 20, 500, 400, 3
	oi, ti := encodeIndexes(&m, []indexEntry{{10, 0, -1}, {15, 200, 7}})
	write("FuzzDecodeIndexes", "empty", []byte{}, []byte{})
	write("FuzzDecodeIndexes", "valid", oi, ti)
	write("FuzzDecodeIndexes", "truncated", oi[:len(oi)-1], ti)
	tb := testBatchTS(10, 100, 500, 300)
	write("FuzzRecordAtOrAfter", "empty", []byte{}, int64(0))
	write("FuzzRecordAtOrAfter", "valid", tb, int64(200))
	write("FuzzRecordAtOrAfter", "truncated", tb[:len(tb)-2], int64(200))
	write("FuzzRecordAtOrAfter", "garbage-after", append(bytes.Clone(tb), 7, 7), int64(200))
	xer := append(append(bytes.Clone(xerialMagic), 0, 0, 0, 1, 0, 0, 0, 1), 0, 0, 0, 3, 1, 0, 0)
	write("FuzzRecordAtOrAfter", "xerial", finishBatch(10, CompressionSnappy, 100, 500, 3, 2, xer), int64(0))
	write("FuzzRecordAtOrAfter", "max-length-xerial-chunk",
		finishBatch(10, CompressionSnappy, 100, 500, 3, 2, append(append(bytes.Clone(xerialMagic), 0, 0, 0, 1, 0, 0, 0, 1), 0x7f, 0xff, 0xff, 0xff)), int64(0))
}

// FuzzRecordAtOrAfter: decoding the records of a batch (after decompressing
// a client codec, xerial framing included) for ListOffsets never panics and
// never names an offset outside the batch.
func FuzzRecordAtOrAfter(f *testing.F) {
	ts := []int64{100, 500, 300}
	f.Add(testBatchTS(10, ts...), int64(200))
	xer := append(append(bytes.Clone(xerialMagic), 0, 0, 0, 1, 0, 0, 0, 1), 0, 0, 0, 3, 1, 0, 0)
	f.Add(finishBatch(10, CompressionSnappy, 100, 500, 3, 2, xer), int64(0))
	f.Add(finishBatch(10, CompressionGzip, 100, 500, 3, 2, []byte{0x1f, 0x8b, 8, 0}), int64(0))
	f.Fuzz(func(t *testing.T, b []byte, ts int64) {
		bh, err := ParseBatchHeader(b)
		if err != nil || bh.BaseOffset < 0 || bh.LastOffset() < bh.BaseOffset {
			return // never in a log: Append admits only offsets from EndOffset
		}
		off, _, ok := recordAtOrAfter(&bh, b[:bh.Size()], ts, 0)
		if !ok || off < bh.BaseOffset || off > bh.LastOffset() {
			t.Fatalf("offset %d outside the batch [%d,%d] (ok %v)", off, bh.BaseOffset, bh.LastOffset(), ok)
		}
	})
}
