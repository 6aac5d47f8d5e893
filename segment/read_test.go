package segment

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestReadLimits: whole batches from the one holding the offset, up to
// maxBytes, at least one; nil at the end; out of range around it.
func TestReadLimits(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testOpts(t))
	defer l.Close()
	// Frames of two batches of 3 records (100-byte values): offsets 0-5, 6-11, ...
	rng := rand.New(rand.NewPCG(2, 2))
	frames := appendN(t, l, rng, kindRandom, 10, 2, 3, 100)
	batches, _ := SplitBatches(bytes.Join(frames, nil))
	bsz := len(batches[0])
	tests := []struct {
		name     string
		offset   int64
		maxBytes int
		want     []int // batch numbers
	}{
		{"first batch exactly", 0, bsz, []int{0}},
		{"mid batch offset", 1, bsz, []int{0}},
		{"at least one batch", 4, 1, []int{1}},
		{"zero max bytes", 4, 0, []int{1}},
		{"two batches across frames", 5, 2 * bsz, []int{1, 2}},
		{"just under three", 5, 3*bsz - 1, []int{1, 2}},
		{"to the end", 54, 100 * bsz, []int{18, 19}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := l.Read(tc.offset, tc.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			for _, i := range tc.want {
				want = append(want, batches[i]...)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes, want batches %v (%d bytes)", len(got), tc.want, len(want))
			}
		})
	}
	if b, err := l.Read(60, 10); b != nil || err != nil {
		t.Fatalf("Read(end) = %v, %v", b, err)
	}
	for _, off := range []int64{-1, 61} {
		if _, err := l.Read(off, 10); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("Read(%d): %v", off, err)
		}
	}
}

// TestOffsetForTimestamp covers ListOffsets semantics across segments,
// within uncompressed batches (exact record), LogAppendTime and
// client-compressed batches (batch granularity), and after retention.
func TestOffsetForTimestamp(t *testing.T) {
	o := testOpts(t)
	o.SegmentBytes = 1 << 10
	o.IndexIntervalBytes = 1
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	// Batches of 4 records at offsets 4k..4k+3, timestamps 1000+10k+(0..3).
	for k := int64(0); k < 20; k++ {
		b := testBatch(4*k, 1000+10*k, []byte("v0"), []byte("v1"), []byte("v2"), []byte("v3"))
		if err := l.Append(b, uint64(k+1), uint64(k+1)); err != nil {
			t.Fatal(err)
		}
	}
	// A LogAppendTime batch and a client-compressed one.
	lat := testBatch(80, 1, []byte("a"), []byte("b"))
	SetLogAppendTime(lat, 5000)
	comp := testCompressedBatch(82, 6000, 5, []byte("opaque compressed records"))
	if err := l.Append(append(lat, comp...), 21, 21); err != nil {
		t.Fatal(err)
	}
	if len(l.Segments()) < 3 {
		t.Fatalf("want several segments, have %d", len(l.Segments()))
	}
	tests := []struct {
		ts       int64
		off, got int64
		ok       bool
	}{
		{0, 0, 1000, true},
		{1000, 0, 1000, true},
		{1002, 2, 1002, true},
		{1004, 4, 1010, true},
		{1053, 23, 1053, true},
		{1193, 79, 1193, true},
		{1194, 80, 5000, true},
		{5000, 80, 5000, true},
		{5001, 82, 6000, true},
		{6000, 82, 6000, true},
		{6001, 0, 0, false},
	}
	for _, tc := range tests {
		off, ts, ok, err := l.OffsetForTimestamp(tc.ts)
		if err != nil || ok != tc.ok || (ok && (off != tc.off || ts != tc.got)) {
			t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v, %v; want %d, %d, %v", tc.ts, off, ts, ok, err, tc.off, tc.got, tc.ok)
		}
	}
	if ts, off := l.MaxTimestamp(); ts != 6000 || off != 82 {
		t.Errorf("MaxTimestamp = %d, %d", ts, off)
	}
	// After retention, answers never go below the start offset.
	if err := l.TruncateFront(10); err != nil {
		t.Fatal(err)
	}
	if off, ts, ok, _ := l.OffsetForTimestamp(0); !ok || off != 10 || ts != 1022 {
		t.Errorf("after TruncateFront(10): OffsetForTimestamp(0) = %d, %d, %v", off, ts, ok)
	}
}

// TestRollByAge rolls the active segment once its first frame is older than
// SegmentAge, using an injected clock.
func TestRollByAge(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	o := testOpts(t)
	o.SegmentBytes = 1 << 30
	o.SegmentAge = time.Hour
	o.Now = clock
	dir := t.TempDir()
	l := mustOpen(t, dir, o)
	rng := rand.New(rand.NewPCG(1, 1))
	appendN(t, l, rng, kindJSON, 3, 1, 1, 10)
	advance(59 * time.Minute)
	appendN(t, l, rng, kindJSON, 1, 1, 1, 10)
	if n := len(l.Segments()); n != 1 {
		t.Fatalf("%d segments before the age is reached", n)
	}
	advance(2 * time.Minute)
	l.Close()
	// The age survives a reopen: it is the first frame's append time.
	l = mustOpen(t, dir, o)
	defer l.Close()
	appendN(t, l, rng, kindJSON, 1, 1, 1, 10)
	segs := l.Segments()
	if len(segs) != 2 || !segs[0].Sealed || segs[1].Sealed || segs[1].BaseOffset != 4 {
		t.Fatalf("segments after age roll: %+v", segs)
	}
	if !segs[0].Created.Equal(time.Unix(1_700_000_000, 0)) {
		t.Fatalf("created %v", segs[0].Created)
	}
	// Empty frames (Raft entries that wrote nothing) never roll a segment
	// with no records and keep LastIndex exact.
	advance(3 * time.Hour)
	if err := l.Append(nil, l.LastIndex()+1, l.LastIndex()+3); err != nil {
		t.Fatal(err)
	}
	last := l.LastIndex()
	l.Close()
	l2 := mustOpen(t, dir, o)
	defer l2.Close()
	if l2.LastIndex() != last || l2.EndOffset() != 5 {
		t.Fatalf("after empty frame: last %d end %d", l2.LastIndex(), l2.EndOffset())
	}
}

// TestPrecompressedBatches: client-compressed batches are stored without a
// second compression and survive the sealed rewrite byte for byte.
func TestPrecompressedBatches(t *testing.T) {
	o := testOpts(t)
	o.ActiveCodec, o.ActiveCodecSet = CodecS2, true
	o.SegmentBytes = 1 << 10
	o.DisableBackgroundRewrite = false
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	payload := bytes.Repeat([]byte("compressible? the client says it is compressed"), 20)
	var want []byte
	for k := int64(0); k < 6; k++ {
		b := testCompressedBatch(10*k, 100, 10, payload)
		want = append(want, b...)
		if err := l.Append(b, uint64(k+1), uint64(k+1)); err != nil {
			t.Fatal(err)
		}
	}
	waitRewritten(t, l, true)
	if got := readAll(t, l, 1<<20); !bytes.Equal(got, want) {
		t.Fatal("data differs")
	}
	var stored int64
	for _, s := range l.Segments() {
		stored += s.Size
	}
	if stored < int64(len(want)) {
		t.Fatalf("stored %d < input %d: precompressed batches were compressed again", stored, len(want))
	}
}

// TestConcurrentReaders runs readers, timestamp lookups and checkpoints
// against a writer that appends, rolls and truncates (run with -race).
func TestConcurrentReaders(t *testing.T) {
	o := testOpts(t)
	o.SegmentBytes = 8 << 10
	o.CacheBytes = 64 << 10
	o.DisableBackgroundRewrite = false
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start, end := l.StartOffset(), l.EndOffset()
				if end == start {
					continue
				}
				off := start + rand.Int64N(end-start)
				b, err := l.Read(off, 4<<10)
				if errors.Is(err, ErrOffsetOutOfRange) {
					continue // retention moved the start meanwhile
				}
				if err != nil {
					errc <- err
					return
				}
				h, err := ParseBatchHeader(b)
				if err != nil || off < h.BaseOffset || off > h.LastOffset() {
					errc <- errors.New("read returned a batch not holding the offset")
					return
				}
				if _, _, _, err := l.OffsetForTimestamp(1000 + off); err != nil {
					errc <- err
					return
				}
				if cp, err := l.Checkpoint(); err == nil {
					cp.Close()
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(1, 9))
	deadline := time.Now().Add(1500 * time.Millisecond)
	for i := 0; time.Now().Before(deadline); i++ {
		appendN(t, l, rng, kindJSON, 1, 2, 3, 80)
		if i%50 == 49 {
			if err := l.TruncateFront(l.EndOffset() - 100); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
}

// TestOptionsValidate: every bad field is named, all at once.
func TestOptionsValidate(t *testing.T) {
	_, err := Open(t.TempDir(), &Options{SegmentBytes: -1, ActiveCodec: 9, SealedCodec: 8, MaxFrameBytes: 1 << 30, IndexIntervalBytes: -5})
	if err == nil {
		t.Fatal("bad options accepted")
	}
	for _, field := range []string{"SegmentBytes", "ActiveCodec", "SealedCodec", "MaxFrameBytes", "IndexIntervalBytes"} {
		if !bytes.Contains([]byte(err.Error()), []byte(field)) {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
	l := mustOpen(t, t.TempDir(), nil)
	defer l.Close()
	if l.opts.ActiveCodec != DefaultActiveCodec || l.opts.SealedCodec != CodecZstd || l.opts.SegmentBytes != 1<<30 {
		t.Fatalf("defaults: %+v", l.opts)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Append":        l.Append(nil, 1, 1),
		"Sync":          l.Sync(),
		"Close":         l.Close(),
		"TruncateFront": l.TruncateFront(0),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
	if _, err := l.Read(0, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	if _, err := l.Checkpoint(); !errors.Is(err, ErrClosed) {
		t.Errorf("Checkpoint after Close: %v", err)
	}
}

// TestOffsetForTimestampUnordered: producers choose timestamps, so a later
// segment may hold older ones; the earliest qualifying offset wins.
func TestOffsetForTimestampUnordered(t *testing.T) {
	o := testOpts(t)
	o.SegmentBytes = 100 // every frame rolls
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	for i, ts := range []int64{100, 5000, 300, 200, 9000} {
		if err := l.Append(testBatch(int64(i), ts, []byte("v")), uint64(i+1), uint64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(l.Segments()); n != 5 {
		t.Fatalf("%d segments", n)
	}
	for _, tc := range []struct{ ts, off int64 }{{50, 0}, {150, 1}, {5000, 1}, {5001, 4}} {
		off, _, ok, err := l.OffsetForTimestamp(tc.ts)
		if err != nil || !ok || off != tc.off {
			t.Errorf("OffsetForTimestamp(%d) = %d, %v, %v; want %d", tc.ts, off, ok, err, tc.off)
		}
	}
}

// TestReadV: the zero-copy variant returns the same batches as Read.
func TestReadV(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testOpts(t))
	defer l.Close()
	appendN(t, l, rand.New(rand.NewPCG(3, 4)), kindJSON, 10, 2, 3, 100)
	for _, max := range []int{1, 1000, 5000, 1 << 20} {
		for off := int64(0); off <= l.EndOffset(); off += 7 {
			want, err := l.Read(off, max)
			if err != nil {
				t.Fatal(err)
			}
			parts, err := l.ReadV(off, max)
			if err != nil || !bytes.Equal(bytes.Join(parts, nil), want) {
				t.Fatalf("ReadV(%d, %d) differs from Read: %v", off, max, err)
			}
		}
	}
	if _, err := l.ReadV(-1, 1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatal(err)
	}
}

// TestMaxTimestampRecord: MaxTimestamp names the record carrying the largest
// timestamp (KIP-734), and ListOffsets finds records in unordered batches.
func TestMaxTimestampRecord(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testOpts(t))
	defer l.Close()
	if ts, off := l.MaxTimestamp(); ts != -1 || off != -1 {
		t.Fatalf("empty log: %d %d", ts, off)
	}
	if err := l.Append(testBatchTS(0, 100, 500, 300), 1, 1); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(append(testBatchTS(3, 200, 200), testBatchTS(5, 400, 700, 650, 700)...), 2, 2); err != nil {
		t.Fatal(err)
	}
	if ts, off := l.MaxTimestamp(); ts != 700 || off != 6 {
		t.Fatalf("MaxTimestamp = %d, %d; want 700, 6", ts, off)
	}
	for _, tc := range []struct{ ts, off, got int64 }{{150, 1, 500}, {500, 1, 500}, {501, 6, 700}, {650, 6, 700}} {
		off, got, ok, err := l.OffsetForTimestamp(tc.ts)
		if err != nil || !ok || off != tc.off || got != tc.got {
			t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v, %v; want %d, %d", tc.ts, off, got, ok, err, tc.off, tc.got)
		}
	}
}

// SetRoll changes the roll limits of an open log from the next append.
func TestSetRoll(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	o := testOpts(t)
	o.SegmentBytes = 1 << 30
	o.SegmentAge = 24 * time.Hour
	o.Now = func() time.Time { return now }
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	rng := rand.New(rand.NewPCG(2, 2))
	appendN(t, l, rng, kindJSON, 4, 1, 1, 100)
	if n := len(l.Segments()); n != 1 {
		t.Fatalf("%d segments under a 1 GiB limit", n)
	}
	l.SetRoll(1024, 0)
	appendN(t, l, rng, kindJSON, 20, 1, 1, 100)
	if n := len(l.Segments()); n < 3 {
		t.Fatalf("%d segments after SetRoll(1024): want several", n)
	}
	l.SetRoll(1<<30, time.Minute)
	before := len(l.Segments())
	appendN(t, l, rng, kindJSON, 1, 1, 1, 100)
	now = now.Add(2 * time.Minute)
	appendN(t, l, rng, kindJSON, 1, 1, 1, 100)
	if n := len(l.Segments()); n != before+1 {
		t.Fatalf("%d segments after an age roll, want %d", n, before+1)
	}
}
