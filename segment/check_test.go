package segment

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// checkFixture writes a log with several sealed segments and an active one
// holding several frames, closes it and returns its directory and segments.
func checkFixture(t *testing.T) (string, []SegmentInfo) {
	t.Helper()
	dir := t.TempDir()
	o := testOpts(t)
	o.SegmentBytes = 16 << 10
	l := mustOpen(t, dir, o)
	appendN(t, l, rand.New(rand.NewPCG(1, 2)), kindRandom, 40, 2, 4, 200)
	segs := l.Segments()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if len(segs) < 4 {
		t.Fatalf("fixture has %d segments, want at least 4", len(segs))
	}
	return dir, segs
}

// framePositions lists the byte positions of the frames of a segment file.
func framePositions(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	var out []int64
	for pos := int64(0); pos < st.Size(); {
		h, _, err := readFrame(f, pos, st.Size())
		if err != nil {
			break
		}
		out = append(out, pos)
		pos += h.size()
	}
	return out
}

func segPath(dir string, base int64, suf string) string {
	return filepath.Join(dir, segmentName(base)+suf)
}

func flipByte(t *testing.T, path string, pos int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[pos] ^= 0x5a
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCheck(t *testing.T) {
	mustRemove := func(t *testing.T, p string) {
		t.Helper()
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	active := func(segs []SegmentInfo) int64 { return segs[len(segs)-1].BaseOffset }
	cases := []struct {
		name    string
		damage  func(t *testing.T, dir string, segs []SegmentInfo)
		want    error // nil: passes
		missing bool
		opens   bool // Open succeeds afterwards (torn tails, undetected flips)
	}{
		{name: "healthy", damage: func(*testing.T, string, []SegmentInfo) {}, opens: true},
		{name: "middle sealed .log removed", want: ErrMissingSegment, missing: true,
			damage: func(t *testing.T, dir string, segs []SegmentInfo) {
				mustRemove(t, segPath(dir, segs[1].BaseOffset, logSuffix))
			}},
		{name: "first sealed .log removed", want: ErrMissingSegment, missing: true,
			damage: func(t *testing.T, dir string, segs []SegmentInfo) {
				mustRemove(t, segPath(dir, segs[0].BaseOffset, logSuffix))
			}},
		{name: "middle sealed segment removed with its indexes", want: ErrMissingSegment, missing: true,
			damage: func(t *testing.T, dir string, segs []SegmentInfo) {
				for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
					mustRemove(t, segPath(dir, segs[1].BaseOffset, suf))
				}
			}},
		{name: "first segment removed with its indexes", want: ErrMissingSegment, missing: true,
			damage: func(t *testing.T, dir string, segs []SegmentInfo) {
				for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
					mustRemove(t, segPath(dir, segs[0].BaseOffset, suf))
				}
			}},
		{name: "sealed byte flipped, index gone", want: ErrCorrupt,
			damage: func(t *testing.T, dir string, segs []SegmentInfo) {
				mustRemove(t, segPath(dir, segs[1].BaseOffset, indexSuffix))
				flipByte(t, segPath(dir, segs[1].BaseOffset, logSuffix), 200)
			}},
		{name: "sealed byte flipped, index matches (found by reads)", opens: true,
			damage: func(t *testing.T, dir string, segs []SegmentInfo) {
				flipByte(t, segPath(dir, segs[1].BaseOffset, logSuffix), 200)
			}},
		{name: "active torn tail", opens: true,
			damage: func(t *testing.T, dir string, segs []SegmentInfo) {
				p := segPath(dir, active(segs), logSuffix)
				pos := framePositions(t, p)
				if err := os.Truncate(p, pos[len(pos)-1]+frameHeaderSize+7); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "active zeros after the last frame", opens: true,
			damage: func(t *testing.T, dir string, segs []SegmentInfo) {
				p := segPath(dir, active(segs), logSuffix)
				f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.Write(make([]byte, 4096))
				f.Close()
			}},
		{name: "active last frame flipped (torn)", opens: true,
			damage: func(t *testing.T, dir string, segs []SegmentInfo) {
				p := segPath(dir, active(segs), logSuffix)
				pos := framePositions(t, p)
				flipByte(t, p, pos[len(pos)-1]+frameHeaderSize+3)
			}},
		{name: "active middle frame flipped", want: ErrCorrupt,
			damage: func(t *testing.T, dir string, segs []SegmentInfo) {
				p := segPath(dir, active(segs), logSuffix)
				pos := framePositions(t, p)
				if len(pos) < 3 {
					t.Fatalf("active segment has %d frames", len(pos))
				}
				flipByte(t, p, pos[1]+frameHeaderSize+3)
			}},
		{name: "active garbage inserted in the middle", want: ErrCorrupt,
			damage: func(t *testing.T, dir string, segs []SegmentInfo) {
				p := segPath(dir, active(segs), logSuffix)
				pos := framePositions(t, p)
				b, _ := os.ReadFile(p)
				garbage := []byte("this is not a frame, just garbage in the middle of the segment")
				b = append(b[:pos[1]:pos[1]], append(garbage, b[pos[1]:]...)...)
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, segs := checkFixture(t)
			tc.damage(t, dir, segs)
			err := Check(dir, testOpts(t))
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("Check: %v, want nil", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("Check: %v, want %v", err, tc.want)
			}
			if err != nil {
				var ce *CorruptError
				if !errors.As(err, &ce) || ce.Segment == "" {
					t.Fatalf("Check: %v is not a *CorruptError naming the file", err)
				}
				if got := errors.Is(err, ErrMissingSegment); got != tc.missing {
					t.Fatalf("Check: %v: errors.Is(ErrMissingSegment) = %v, want %v", err, got, tc.missing)
				}
				t.Logf("Check: %v", err)
			}
			if tc.opens {
				l, err := Open(dir, testOpts(t))
				if err != nil {
					t.Fatalf("Open after Check passed: %v", err)
				}
				l.Close()
				if err := Check(dir, testOpts(t)); err != nil {
					t.Fatalf("Check after Open: %v", err)
				}
			}
		})
	}
}

func TestCheckEmptyAndMissingDir(t *testing.T) {
	if err := Check(filepath.Join(t.TempDir(), "nope"), nil); err != nil {
		t.Fatalf("Check of a missing dir: %v", err)
	}
	if err := Check(t.TempDir(), nil); err != nil {
		t.Fatalf("Check of an empty dir: %v", err)
	}
}

// A flipped byte in a sealed segment that Check cannot see is reported by
// every read that meets it through OnCorrupt, on the first read after Open.
func TestReadReportsSealedCorruption(t *testing.T) {
	dir, segs := checkFixture(t)
	flipByte(t, segPath(dir, segs[1].BaseOffset, logSuffix), 200)
	var n atomic.Int64
	o := testOpts(t)
	o.OnCorrupt = func(*CorruptError) { n.Add(1) }
	l := mustOpen(t, dir, o)
	defer l.Close()
	var err error
	for off := l.StartOffset(); off < l.EndOffset(); off++ {
		if _, err = l.Read(off, 1); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reads: %v, want ErrCorrupt", err)
	}
	if n.Load() == 0 {
		t.Fatal("OnCorrupt was not called")
	}
}

// BenchmarkCheckVsOpen: the cost Check adds before Open, on a log of 32 MiB
// in sealed segments plus an active segment of 32 MiB (Check reads the
// sealed segments' indexes and scans the active one, as Open does).
func BenchmarkCheckVsOpen(b *testing.B) {
	dir := b.TempDir()
	o := &Options{SegmentBytes: 32 << 20, CacheBytes: -1, DisableBackgroundRewrite: true, ActiveCodec: CodecNone, ActiveCodecSet: true}
	l, err := Open(dir, o)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for l.Size() < 60<<20 {
		bs := testBatches(rng, kindRandom, l.EndOffset(), 1000, 4, 16, 1000)
		li := l.LastIndex() + 1
		if err := l.Append(bs, li, li); err != nil {
			b.Fatal(err)
		}
	}
	size := l.Size()
	l.Close()
	b.Run("Check", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if err := Check(dir, o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Open", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			l, err := Open(dir, o)
			if err != nil {
				b.Fatal(err)
			}
			l.Close()
		}
	})
}
