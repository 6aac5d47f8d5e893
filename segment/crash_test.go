package segment

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestTornTail cuts the active segment at every byte boundary of its last
// frame (for an uncompressed and a compressed active codec) and checks that
// Open recovers exactly the complete frames: offsets, Raft index and data,
// and that the log accepts appends afterwards.
func TestTornTail(t *testing.T) {
	for _, c := range []Codec{CodecNone, CodecS2} {
		t.Run(c.String(), func(t *testing.T) {
			dir := t.TempDir()
			o := testOpts(t)
			o.SegmentBytes = 1 << 20
			o.ActiveCodec, o.ActiveCodecSet = c, true
			l := mustOpen(t, dir, o)
			rng := rand.New(rand.NewPCG(3, 3))
			frames := appendN(t, l, rng, kindJSON, 5, 2, 3, 40)
			startLast := l.Size()
			endBefore, lastBefore := l.EndOffset(), l.LastIndex()
			last := appendN(t, l, rng, kindJSON, 1, 2, 3, 40)[0]
			endAll, size := l.EndOffset(), l.Size()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, segmentName(0)+logSuffix)
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(orig)) != size {
				t.Fatalf("file %d bytes, log said %d", len(orig), size)
			}
			want := bytes.Join(frames, nil)
			for cut := startLast; cut <= size; cut++ {
				if err := os.WriteFile(path, orig[:cut], 0o644); err != nil {
					t.Fatal(err)
				}
				l := mustOpen(t, dir, o)
				wantEnd, wantLast, wantData := endBefore, lastBefore, want
				if cut == size {
					wantEnd, wantLast, wantData = endAll, lastBefore+1, append(bytes.Clone(want), last...)
				}
				if l.EndOffset() != wantEnd || l.LastIndex() != wantLast {
					t.Fatalf("cut at %d: end %d last index %d, want %d %d", cut, l.EndOffset(), l.LastIndex(), wantEnd, wantLast)
				}
				if got := readAll(t, l, 1<<20); !bytes.Equal(got, wantData) {
					t.Fatalf("cut at %d: data differs", cut)
				}
				if cut < size {
					if st, _ := os.Stat(path); st.Size() != startLast {
						t.Fatalf("cut at %d: torn tail not removed (size %d, want %d)", cut, st.Size(), startLast)
					}
					// The log goes on from the recovered prefix.
					b := testBatch(wantEnd, 5, []byte("after"))
					if err := l.Append(b, wantLast+1, wantLast+1); err != nil {
						t.Fatalf("cut at %d: append after recovery: %v", cut, err)
					}
				}
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// sealedFixture builds a log of several sealed segments of small frames,
// each indexed, closes it, and returns the directory, the options, the
// frames' payloads and the first segment's frame positions.
func sealedFixture(t *testing.T) (string, *Options, [][]byte) {
	dir := t.TempDir()
	o := testOpts(t)
	o.SegmentBytes = 2 << 10
	o.IndexIntervalBytes = 1
	l := mustOpen(t, dir, o)
	rng := rand.New(rand.NewPCG(4, 4))
	frames := appendN(t, l, rng, kindJSON, 24, 1, 2, 60)
	if n := len(l.Segments()); n < 3 {
		t.Fatalf("%d segments, want >= 3", n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, o, frames
}

// TestSealedBitFlips flips one bit at every byte of a sealed segment. Open
// must either succeed (the index is intact) and then serve every other frame
// and report the damaged one as ErrCorrupt with its segment and position, or
// fail with ErrCorrupt. Corrupt data is never served.
func TestSealedBitFlips(t *testing.T) {
	dir, o, frames := sealedFixture(t)
	path := filepath.Join(dir, segmentName(0)+logSuffix)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Frame positions and offset ranges of segment 0.
	type fr struct{ pos, end, first, last int64 }
	var fs []fr
	for pos := int64(0); pos < int64(len(orig)); {
		h, err := parseFrameHeader(orig[pos:])
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, fr{pos, pos + h.size(), h.BaseOffset, h.LastOffset})
		pos += h.size()
	}
	all := bytes.Join(frames, nil)
	batchAt := map[int64][]byte{} // base offset -> batch
	if err := EachBatch(all, func(h BatchHeader, b []byte) error { batchAt[h.BaseOffset] = b; return nil }); err != nil {
		t.Fatal(err)
	}
	openFails := 0
	calls := 0
	o.OnCorrupt = func(*CorruptError) { calls++ }
	for i := range orig {
		calls = 0
		bad := bytes.Clone(orig)
		bad[i] ^= 1 << (i % 8)
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir, o)
		if err != nil {
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("flip at %d: Open: %v, want a CorruptError", i, err)
			}
			openFails++
			continue
		}
		var hit fr
		for _, f := range fs {
			if int64(i) >= f.pos && int64(i) < f.end {
				hit = f
			}
		}
		for base, want := range batchAt {
			got, err := l.Read(base, 1)
			inHit := base >= hit.first && base <= hit.last
			switch {
			case inHit:
				var ce *CorruptError
				if !errors.As(err, &ce) || ce.Segment != path || ce.Pos != hit.pos {
					t.Fatalf("flip at %d: Read(%d) = %d bytes, %v; want CorruptError at %s:%d", i, base, len(got), err, path, hit.pos)
				}
			case err != nil:
				t.Fatalf("flip at %d: Read(%d) of an intact frame: %v", i, base, err)
			case !bytes.Equal(got, want):
				t.Fatalf("flip at %d: Read(%d) served wrong bytes", i, base)
			}
		}
		// Read more than once: the hook still hears of the frame once.
		l.Read(hit.first, 1)
		if calls != 1 {
			t.Fatalf("flip at %d: OnCorrupt called %d times, want once", i, calls)
		}
		l.Close()
	}
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d flips, %d refused at Open (index no longer matched and the rebuild found the damage)", len(orig), openFails)
}

// TestSealedCorruptIndexRebuild: a damaged or missing index is rebuilt from
// the log; if the log is damaged too, Open reports ErrCorrupt.
func TestSealedCorruptIndexRebuild(t *testing.T) {
	dir, o, frames := sealedFixture(t)
	want := bytes.Join(frames, nil)
	idx := filepath.Join(dir, segmentName(0)+indexSuffix)
	tidx := filepath.Join(dir, segmentName(0)+timeIndexSuffix)
	b, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(idx, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, segmentName(frameBase(t, dir, 1))+timeIndexSuffix)); err != nil {
		t.Fatal(err)
	}
	l := mustOpen(t, dir, o)
	if got := readAll(t, l, 1<<20); !bytes.Equal(got, want) {
		t.Fatal("data differs after index rebuild")
	}
	l.Close()
	if _, _, err := readIndexes(OSFS{}, dir, 0); err != nil {
		t.Fatalf("rebuilt index not written back: %v", err)
	}
	// Now damage the log and remove its index: Open must refuse.
	os.Remove(idx)
	os.Remove(tidx)
	lp := filepath.Join(dir, segmentName(0)+logSuffix)
	lb, _ := os.ReadFile(lp)
	lb[frameHeaderSize+5] ^= 0x10
	os.WriteFile(lp, lb, 0o644)
	_, err = Open(dir, o)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Segment != lp || ce.Pos != 0 {
		t.Fatalf("Open with damaged sealed log: %v, want CorruptError at %s:0", err, lp)
	}
}

// frameBase returns the base offset of the i-th segment in dir.
func frameBase(t *testing.T, dir string, i int) int64 {
	names, err := OSFS{}.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range names {
		if b, ok := parseSegmentName(name); ok {
			if n == i {
				return b
			}
			n++
		}
	}
	t.Fatalf("no segment %d", i)
	return 0
}

// TestActiveBitFlip: damage in the active segment is indistinguishable from
// a torn write; everything from the damaged frame on is cut (Raft re-applies
// it) and LastIndex reports the last good frame.
func TestActiveBitFlip(t *testing.T) {
	dir := t.TempDir()
	o := testOpts(t)
	o.SegmentBytes = 1 << 20
	l := mustOpen(t, dir, o)
	rng := rand.New(rand.NewPCG(5, 5))
	frames := appendN(t, l, rng, kindRandom, 6, 1, 2, 50)
	sizes := []int64{}
	for _, s := range l.Segments() {
		sizes = append(sizes, s.Size)
	}
	l.Close()
	path := filepath.Join(dir, segmentName(0)+logSuffix)
	b, _ := os.ReadFile(path)
	frameLen := int64(len(b)) / 6 // equal-size frames
	b[3*frameLen+frameHeaderSize+7] ^= 0x04
	os.WriteFile(path, b, 0o644)
	l = mustOpen(t, dir, o)
	defer l.Close()
	if l.LastIndex() != 3 || l.EndOffset() != 6 {
		t.Fatalf("last index %d end %d, want 3 and 6", l.LastIndex(), l.EndOffset())
	}
	if got := readAll(t, l, 1<<20); !bytes.Equal(got, bytes.Join(frames[:3], nil)) {
		t.Fatal("data differs")
	}
}
