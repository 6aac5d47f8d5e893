package segment

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// testBatch builds an uncompressed Kafka v2 record batch at base with one
// record per value; record i has timestamp ts0+i.
func testBatch(base int64, ts0 int64, values ...[]byte) []byte {
	var recs []byte
	for i, v := range values {
		var body []byte
		body = append(body, 0)                          // attributes
		body = binary.AppendVarint(body, int64(i))      // timestamp delta
		body = binary.AppendVarint(body, int64(i))      // offset delta
		body = binary.AppendVarint(body, -1)            // key length: null
		body = binary.AppendVarint(body, int64(len(v))) // value length
		body = append(body, v...)
		body = binary.AppendVarint(body, 0) // headers
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	return finishBatch(base, 0, ts0, ts0+int64(len(values))-1, int32(len(values)), int32(len(values)-1), recs)
}

// testBatchTS builds an uncompressed batch at base with one record per
// timestamp (in the given, possibly unordered, order).
func testBatchTS(base int64, ts ...int64) []byte {
	maxTs := ts[0]
	for _, t := range ts {
		maxTs = max(maxTs, t)
	}
	return finishBatch(base, 0, ts[0], maxTs, int32(len(ts)), int32(len(ts)-1), testRecords(ts...))
}

// testRecords encodes the records section of a batch, one 1-byte record
// per timestamp, timestamps as deltas from the first.
func testRecords(ts ...int64) []byte {
	var recs []byte
	for i, t := range ts {
		var body []byte
		body = append(body, 0)
		body = binary.AppendVarint(body, t-ts[0])
		body = binary.AppendVarint(body, int64(i))
		body = binary.AppendVarint(body, -1)
		body = binary.AppendVarint(body, 1)
		body = append(body, 'v')
		body = binary.AppendVarint(body, 0)
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	return recs
}

// testCompressedBatch builds a batch whose attributes say the client
// compressed it (codec bits = 4, zstd); its record bytes are opaque.
func testCompressedBatch(base int64, ts int64, n int32, payload []byte) []byte {
	return finishBatch(base, 4, ts, ts, n, n-1, payload)
}

func finishBatch(base int64, attrs int16, ts0, maxTs int64, n, lastDelta int32, recs []byte) []byte {
	b := make([]byte, BatchHeaderSize, BatchHeaderSize+len(recs))
	be := binary.BigEndian
	be.PutUint64(b[0:], uint64(base))
	be.PutUint32(b[8:], uint32(BatchHeaderSize-12+len(recs)))
	be.PutUint32(b[12:], 7) // leader epoch
	b[16] = 2
	be.PutUint16(b[21:], uint16(attrs))
	be.PutUint32(b[23:], uint32(lastDelta))
	be.PutUint64(b[27:], uint64(ts0))
	be.PutUint64(b[35:], uint64(maxTs))
	be.PutUint64(b[43:], ^uint64(0)) // producer id -1
	be.PutUint16(b[51:], 0xffff)
	be.PutUint32(b[53:], 0xffffffff)
	be.PutUint32(b[57:], uint32(n))
	b = append(b, recs...)
	be.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

// payloadKind says what record values look like.
type payloadKind string

const (
	kindRandom payloadKind = "random"
	kindJSON   payloadKind = "json"
)

var jsonWords = []string{"order", "customer", "status", "shipped", "pending", "amount", "currency", "EUR", "USD",
	"items", "sku", "quantity", "price", "address", "street", "city", "Berlin", "Paris", "Lisbon", "created_at",
	"updated_at", "true", "false", "null", "id", "user", "email", "region", "eu-west-1", "us-east-2", "tags"}

// testValue returns a record value of exactly size bytes.
func testValue(rng *rand.Rand, kind payloadKind, size int) []byte {
	b := make([]byte, 0, size+64)
	switch kind {
	case kindRandom:
		b = b[:size]
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	default:
		// JSON-like text: a stream of objects with repeated keys, varied
		// values and numbers, as event payloads look.
		for len(b) < size {
			b = fmt.Appendf(b, `{"id":%d,"%s":"%s","%s":%d.%02d,"%s":"%s-%d","%s":[%d,%d]},`,
				rng.IntN(1_000_000), jsonWords[rng.IntN(len(jsonWords))], jsonWords[rng.IntN(len(jsonWords))],
				jsonWords[rng.IntN(len(jsonWords))], rng.IntN(10000), rng.IntN(100),
				jsonWords[rng.IntN(len(jsonWords))], jsonWords[rng.IntN(len(jsonWords))], rng.IntN(1000),
				jsonWords[rng.IntN(len(jsonWords))], rng.IntN(100), rng.IntN(100))
		}
		return b[:size]
	}
}

// testBatches builds nBatches batches of perBatch records of recSize bytes
// from offset base, concatenated, with timestamps ts0, ts0+1, ...
func testBatches(rng *rand.Rand, kind payloadKind, base, ts0 int64, nBatches, perBatch, recSize int) []byte {
	var out []byte
	for i := 0; i < nBatches; i++ {
		vals := make([][]byte, perBatch)
		for j := range vals {
			vals[j] = testValue(rng, kind, recSize)
		}
		out = append(out, testBatch(base, ts0, vals...)...)
		base += int64(perBatch)
		ts0 += int64(perBatch)
	}
	return out
}

// testOpts are small options for tests: tiny segments, no background rewrite
// unless a test asks, logs to t.
func testOpts(t testing.TB) *Options {
	return &Options{SegmentBytes: 64 << 10, IndexIntervalBytes: 512, CacheBytes: 1 << 20,
		Logger: testLogger(t), DisableBackgroundRewrite: true}
}

func mustOpen(t testing.TB, dir string, o *Options) *Log {
	t.Helper()
	l, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return l
}

// appendN appends n frames of frameBatches batches each, returning the
// frames' payloads in order.
func appendN(t testing.TB, l *Log, rng *rand.Rand, kind payloadKind, n, frameBatches, perBatch, recSize int) [][]byte {
	t.Helper()
	var frames [][]byte
	for i := 0; i < n; i++ {
		b := testBatches(rng, kind, l.EndOffset(), 1000+l.EndOffset(), frameBatches, perBatch, recSize)
		li := l.LastIndex() + 1
		if err := l.Append(b, li, li); err != nil {
			t.Fatalf("Append frame %d: %v", i, err)
		}
		frames = append(frames, b)
	}
	return frames
}

// readAll reads every batch from StartOffset to EndOffset with maxBytes per
// read and returns them concatenated.
func readAll(t testing.TB, l *Log, maxBytes int) []byte {
	t.Helper()
	var out []byte
	off := l.StartOffset()
	for off < l.EndOffset() {
		b, err := l.Read(off, maxBytes)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		if len(b) == 0 {
			t.Fatalf("Read(%d) returned nothing before end %d", off, l.EndOffset())
		}
		var last int64
		if err := EachBatch(b, func(h BatchHeader, _ []byte) error { last = h.LastOffset(); return nil }); err != nil {
			t.Fatalf("Read(%d) returned bad batches: %v", off, err)
		}
		out = append(out, b...)
		off = last + 1
	}
	return out
}

// copyDir copies a flat directory.
func copyDir(t testing.TB, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
