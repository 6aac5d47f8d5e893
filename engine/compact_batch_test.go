package engine

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/chronik-io/chronik/segment"
)

// compressBatch returns the uncompressed batch b with its records section
// compressed by a Kafka codec (1 gzip, 2 snappy xerial-framed, 3 lz4, 4
// zstd), producer fields set, and its length and CRC redone.
func compressBatch(t testing.TB, b []byte, codec int) []byte {
	recs := b[segment.BatchHeaderSize:]
	var buf bytes.Buffer
	switch codec {
	case 0:
		buf.Write(recs)
	case 1:
		w := gzip.NewWriter(&buf)
		w.Write(recs)
		w.Close()
	case 2:
		buf.Write([]byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}) // xerial framing
		buf.Write([]byte{0, 0, 0, 1, 0, 0, 0, 1})
		blk := s2.EncodeSnappy(nil, recs)
		buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(blk))))
		buf.Write(blk)
	case 3:
		w := lz4.NewWriter(&buf)
		w.Write(recs)
		w.Close()
	case 4:
		e, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(e.EncodeAll(recs, nil))
	}
	h, err := segment.ParseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	h.Attributes = int16(codec)
	h.ProducerID, h.ProducerEpoch, h.BaseSequence = 77, 3, 40
	return segment.AppendBatch(nil, h, buf.Bytes())
}

// compactBytes parses the batch at the start of b and filters it with
// compactBatch.
func compactBytes(b []byte, keep func(r rawRecord, maxTs int64) bool) ([]byte, error) {
	h, err := segment.ParseBatchHeader(b)
	if err != nil {
		return nil, err
	}
	return compactBatch(&h, b[:h.Size()], keep)
}

// compactSample is a batch at offset 1000 of keys a, b, a, (keyless), b
// (tombstone), c.
func compactSample() []byte {
	now := time.UnixMilli(1_700_000_000_000)
	b := EncodeBatch([]Record{
		{Key: []byte("a"), Value: []byte("a1"), Timestamp: now},
		{Key: []byte("b"), Value: []byte("b1"), Timestamp: now.Add(time.Millisecond)},
		{Key: []byte("a"), Value: []byte("a2"), Timestamp: now.Add(2 * time.Millisecond)},
		{Value: []byte("free"), Timestamp: now.Add(3 * time.Millisecond)},
		{Key: []byte("b"), Timestamp: now.Add(4 * time.Millisecond)},
		{Key: []byte("c"), Value: []byte("c1"), Timestamp: now.Add(5 * time.Millisecond)},
	}, now)
	binary.BigEndian.PutUint64(b[0:], 1000)
	return b
}

// TestCompactBatch: the batch filter keeps the latest record per key,
// keyless records and fresh tombstones, for batches in every Kafka codec,
// and re-encodes what it changes as an uncompressed batch with the same
// offsets, timestamps and producer fields and a valid CRC.
func TestCompactBatch(t *testing.T) {
	for codec := 0; codec <= 4; codec++ {
		t.Run(fmt.Sprintf("codec%d", codec), func(t *testing.T) {
			in := compressBatch(t, compactSample(), codec)
			km := newKeyMap()
			km.put([]byte("a"), 1002)
			km.put([]byte("b"), 1004)
			km.put([]byte("c"), 2000) // superseded by a later batch
			cases := []struct {
				name string
				now  int64 // Unix ms
				want []int64
			}{
				{name: "tombstone fresh", now: 1_700_000_000_000, want: []int64{1002, 1003, 1004}},
				{name: "tombstone expired", now: 1_700_000_000_000 + DefaultDeleteRetentionMs + 10, want: []int64{1002, 1003}},
			}
			for _, tc := range cases {
				c := &compactor{keys: km, now: tc.now, deleteRetentionMs: DefaultDeleteRetentionMs}
				out, err := compactBytes(in, c.keep)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				checkCompactedBatch(t, in, out)
				recs, err := DecodeBatches(out)
				if err != nil {
					t.Fatalf("%s: decode output: %v", tc.name, err)
				}
				var got []int64
				for _, r := range recs {
					got = append(got, r.Offset)
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Fatalf("%s: kept offsets %v, want %v", tc.name, got, tc.want)
				}
				if recs[0].Timestamp.UnixMilli() != 1_700_000_000_002 {
					t.Fatalf("%s: timestamp of offset 1002 is %v", tc.name, recs[0].Timestamp)
				}
			}
			// Nothing superseded: the batch itself comes back.
			c := &compactor{keys: newKeyMap(), now: 0, deleteRetentionMs: DefaultDeleteRetentionMs}
			if out, err := compactBytes(in, c.keep); err != nil || &out[0] != &in[0] || len(out) != len(in) {
				t.Fatalf("unchanged batch: %v, not the input itself", err)
			}
			// Every record superseded: an empty batch covering the offsets.
			out, err := compactBytes(in, func(rawRecord, int64) bool { return false })
			if err != nil {
				t.Fatal(err)
			}
			checkCompactedBatch(t, in, out)
			if h, _ := segment.ParseBatchHeader(out); h.RecordCount != 0 || h.Size() != segment.BatchHeaderSize {
				t.Fatalf("emptied batch: %+v", h)
			}
		})
	}
}

// checkCompactedBatch checks the invariants of a filtered batch against its
// input: same base offset, last offset delta, timestamps, producer fields,
// leader epoch and attributes less compression; a length that covers it
// exactly; a valid CRC-32C; records that decode.
func checkCompactedBatch(t testing.TB, in, out []byte) {
	t.Helper()
	hi, err := segment.ParseBatchHeader(in)
	if err != nil {
		t.Fatalf("input: %v", err)
	}
	ho, err := segment.ParseBatchHeader(out)
	if err != nil {
		t.Fatalf("output: %v", err)
	}
	if ho.Size() != len(out) {
		t.Fatalf("output length %d, batch says %d", len(out), ho.Size())
	}
	if ho.BaseOffset != hi.BaseOffset || ho.LastOffsetDelta != hi.LastOffsetDelta || ho.BaseTimestamp != hi.BaseTimestamp ||
		ho.MaxTimestamp != hi.MaxTimestamp || ho.ProducerID != hi.ProducerID || ho.ProducerEpoch != hi.ProducerEpoch ||
		ho.BaseSequence != hi.BaseSequence || ho.PartitionLeaderEpoch != hi.PartitionLeaderEpoch || ho.Magic != hi.Magic {
		t.Fatalf("header changed: %+v -> %+v", hi, ho)
	}
	if &out[0] != &in[0] && ho.Attributes != hi.Attributes&^7 {
		t.Fatalf("attributes %x -> %x, want the compression bits cleared", hi.Attributes, ho.Attributes)
	}
	if err := ho.VerifyCRC(out); err != nil {
		t.Fatal(err)
	}
	n := 0
	prev := hi.BaseOffset - 1
	if err := eachRecord(&ho, out, segment.MaxDecompressedRecords, func(r rawRecord) error {
		if r.offset <= prev || r.offset > hi.BaseOffset+int64(hi.LastOffsetDelta) {
			return fmt.Errorf("record offset %d after %d, batch ends at %d", r.offset, prev, hi.BaseOffset+int64(hi.LastOffsetDelta))
		}
		prev = r.offset
		n++
		return nil
	}); err != nil || int32(n) != ho.RecordCount {
		t.Fatalf("output records: %d of %d, %v", n, ho.RecordCount, err)
	}
}

// FuzzCompactBatch feeds arbitrary bytes to the batch filter, dropping the
// records the mask selects: it must never panic, and whatever it accepts
// must come out as a valid batch covering the same offsets with exactly the
// kept records.
func FuzzCompactBatch(f *testing.F) {
	for codec := 0; codec <= 4; codec++ {
		f.Add(compressBatch(f, compactSample(), codec), uint64(0b101101))
	}
	f.Add([]byte{}, uint64(0))
	f.Add(compactSample()[:70], uint64(1))
	f.Add(append(compactSample(), 0xff, 0x00), uint64(3))
	f.Fuzz(func(t *testing.T, b []byte, mask uint64) {
		i := 0
		kept := 0
		out, err := compactBytes(b, func(r rawRecord, _ int64) bool {
			keep := mask&(1<<(i%64)) == 0
			i++
			if keep {
				kept++
			}
			return keep
		})
		if err != nil {
			return
		}
		if len(out) <= len(b) && (len(out) == 0 || &out[0] == &b[0]) {
			return // unchanged (all kept, or a control batch)
		}
		checkCompactedBatch(t, b, out)
		if h, _ := segment.ParseBatchHeader(out); int(h.RecordCount) != kept {
			t.Fatalf("%d records in the output, %d kept", h.RecordCount, kept)
		}
	})
}

// TestWriteCompactSeeds writes FuzzCompactBatch's seed corpus to testdata
// when CHRONIK_WRITE_SEEDS is set.
func TestWriteCompactSeeds(t *testing.T) {
	if os.Getenv("CHRONIK_WRITE_SEEDS") == "" {
		t.Skip("set CHRONIK_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzCompactBatch")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzCompactBatch")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	names := []string{"none", "gzip", "snappy", "lz4", "zstd"}
	for codec, name := range names {
		b := compressBatch(t, compactSample(), codec)
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint64(%d)\n", b, 0b101101)
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	trunc := compactSample()
	seeds := map[string][]byte{"truncated": trunc[:len(trunc)-3], "garbage-after": append(compactSample(), 1, 2, 3)}
	for name, b := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint64(%d)\n", b, 1)
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
