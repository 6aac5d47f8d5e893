package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// emptiedBatch returns b with its records removed: same header (base offset,
// last offset delta, timestamps, producer fields), no records, new length
// and CRC.
func emptiedBatch(b []byte) []byte {
	out := append([]byte(nil), b[:BatchHeaderSize]...)
	binary.BigEndian.PutUint32(out[batchLengthPos:], uint32(BatchHeaderSize-batchLengthOverhead))
	binary.BigEndian.PutUint32(out[batchRecordCountPos:], 0)
	binary.BigEndian.PutUint32(out[batchCRCPos:], crc32.Checksum(out[batchAttributesPos:], castagnoli))
	return out
}

// mapBatches is a test filter built from a per-batch function; it returns
// the input itself when fn changed nothing.
func mapBatches(fn func(h BatchHeader, b []byte) []byte) FrameFilter {
	return func(in []byte) ([]byte, error) {
		var out []byte
		changed := false
		err := EachBatch(in, func(h BatchHeader, b []byte) error {
			nb := fn(h, b)
			changed = changed || !bytes.Equal(nb, b)
			out = append(out, nb...)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if !changed {
			return in, nil
		}
		return out, nil
	}
}

// rewriteFixture writes a log of several sealed segments: frames of 2
// batches of 2 records, and every 5th frame one client-compressed batch.
func rewriteFixture(t *testing.T, codec Codec) (string, *Options) {
	t.Helper()
	dir := t.TempDir()
	o := testOpts(t)
	o.SegmentBytes = 2 << 10
	o.SealedCodec = codec
	l := mustOpen(t, dir, o)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 40; i++ {
		var b []byte
		if i%5 == 4 {
			b = testCompressedBatch(l.EndOffset(), 5000+int64(i), 3, testValue(rng, kindRandom, 90))
		} else {
			b = testBatches(rng, kindJSON, l.EndOffset(), 1000+l.EndOffset(), 2, 2, 40)
		}
		li := l.LastIndex() + 2 // leave gaps: ranges must be kept, not renumbered
		if err := l.Append(b, li-1, li); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(l.Segments()); n < 4 {
		t.Fatalf("%d segments, want >= 4", n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, o
}

// segShape is what RewriteSealed must not change about a segment.
type segShape struct {
	Base, End             int64
	FirstIndex, LastIndex uint64
	Sealed                bool
}

func shapes(l *Log) []segShape {
	var out []segShape
	for _, s := range l.Segments() {
		out = append(out, segShape{s.BaseOffset, s.EndOffset, s.FirstIndex, s.LastIndex, s.Sealed})
	}
	return out
}

func TestRewriteSealed(t *testing.T) {
	even := func(h BatchHeader, b []byte) []byte {
		if h.BaseOffset%2 == 0 {
			return emptiedBatch(b)
		}
		return b
	}
	cases := []struct {
		name      string
		codec     Codec
		upToLast  int // rewrite segments up to the end of this sealed segment; -1 all
		fn        func(h BatchHeader, b []byte) []byte
		raw       FrameFilter // instead of fn
		wantErr   string
		rewritten bool
	}{
		{name: "identity", codec: CodecZstd, upToLast: -1, fn: func(_ BatchHeader, b []byte) []byte { return b }},
		{name: "empty even batches zstd", codec: CodecZstd, upToLast: -1, fn: even, rewritten: true},
		{name: "empty even batches none", codec: CodecNone, upToLast: -1, fn: even, rewritten: true},
		{name: "empty all", codec: CodecS2, upToLast: -1, fn: func(_ BatchHeader, b []byte) []byte { return emptiedBatch(b) }, rewritten: true},
		{name: "only first segment", codec: CodecZstd, upToLast: 0, fn: even, rewritten: true},
		{name: "drop a batch is refused", codec: CodecZstd, upToLast: -1, wantErr: "filter output",
			raw: func(in []byte) ([]byte, error) {
				h, _ := ParseBatchHeader(in)
				if h.Size() == len(in) {
					return in, nil
				}
				return in[h.Size():], nil
			}},
		{name: "filter error", codec: CodecZstd, upToLast: -1, wantErr: "boom",
			raw: func(in []byte) ([]byte, error) { return nil, errors.New("boom") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, o := rewriteFixture(t, tc.codec)
			l := mustOpen(t, dir, o)
			before := readAll(t, l, 1<<20)
			shape := shapes(l)
			last := l.LastIndex()
			start, end := l.StartOffset(), l.EndOffset()
			upTo := end
			if tc.upToLast >= 0 {
				upTo = l.Segments()[tc.upToLast].EndOffset
			}
			filter := tc.raw
			if filter == nil {
				filter = mapBatches(tc.fn)
			}
			files := snapshotFiles(t, dir)
			st, err := l.RewriteSealed(upTo, filter)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("RewriteSealed: %v, want an error with %q", err, tc.wantErr)
				}
				if got := snapshotFiles(t, dir); !equalFiles(got, files) {
					t.Fatal("a failed rewrite changed the files")
				}
				if got := readAll(t, l, 1<<20); !bytes.Equal(got, before) {
					t.Fatal("a failed rewrite changed the content")
				}
				l.Close()
				return
			}
			if err != nil {
				t.Fatalf("RewriteSealed: %v", err)
			}
			if tc.rewritten != (st.Rewritten > 0) {
				t.Fatalf("stats %+v, want rewritten=%v", st, tc.rewritten)
			}
			// The expected content: fn applied to each batch of the
			// segments that ended at or before upTo.
			var want []byte
			_ = EachBatch(before, func(h BatchHeader, b []byte) error {
				if h.LastOffset() < upTo && tc.fn != nil && sealedAt(shape, h.BaseOffset) {
					b = tc.fn(h, b)
				}
				want = append(want, b...)
				return nil
			})
			check := func(l *Log, what string) {
				t.Helper()
				if got := shapes(l); !equalShapes(got, shape) {
					t.Fatalf("%s: segments %+v, want %+v", what, got, shape)
				}
				if l.LastIndex() != last || l.StartOffset() != start || l.EndOffset() != end {
					t.Fatalf("%s: last index %d start %d end %d, want %d %d %d", what, l.LastIndex(), l.StartOffset(), l.EndOffset(), last, start, end)
				}
				for _, mb := range []int{1, 300, 1 << 20} {
					if got := readAll(t, l, mb); !bytes.Equal(got, want) {
						t.Fatalf("%s: content read %d bytes at a time differs from the filtered original", what, mb)
					}
				}
				// A read at every offset starts with the batch that covers it.
				for off := start; off < end; off++ {
					b, err := l.Read(off, 1)
					if err != nil {
						t.Fatalf("%s: Read(%d): %v", what, off, err)
					}
					h, err := ParseBatchHeader(b)
					if err != nil || h.BaseOffset > off || h.LastOffset() < off {
						t.Fatalf("%s: Read(%d) starts with batch %d-%d (%v)", what, off, h.BaseOffset, h.LastOffset(), err)
					}
				}
			}
			check(l, "after rewrite")
			if tc.fn != nil && !tc.rewritten {
				if got := snapshotFiles(t, dir); !equalFiles(got, files) {
					t.Fatal("a filter that changed nothing rewrote files")
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, dir, o)
			check(l, "after reopen")
			l.Close()
		})
	}
}

func sealedAt(shape []segShape, off int64) bool {
	for _, s := range shape {
		if off >= s.Base && off < s.End {
			return s.Sealed
		}
	}
	return false
}

func equalShapes(a, b []segShape) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func snapshotFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = b
	}
	return m
}

func equalFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// TestRewriteSealedCrash: a crash after the tmp file was written but before
// the rename leaves the tmp file, which Open deletes, and the old content; a
// crash after the rename but before the index files were replaced leaves
// stale index files, which Open detects and rebuilds, and the new content.
func TestRewriteSealedCrash(t *testing.T) {
	empty := mapBatches(func(_ BatchHeader, b []byte) []byte { return emptiedBatch(b) })

	t.Run("before rename", func(t *testing.T) {
		dir, o := rewriteFixture(t, CodecZstd)
		l := mustOpen(t, dir, o)
		before := readAll(t, l, 1<<20)
		var leftover string
		var leftBytes []byte
		l.testHookBeforeRename = func(tmp string) error {
			b, err := os.ReadFile(tmp)
			if err != nil {
				return err
			}
			leftover, leftBytes = tmp, b
			return errors.New("crash")
		}
		if _, err := l.RewriteSealed(l.EndOffset(), empty); err == nil || !strings.Contains(err.Error(), "crash") {
			t.Fatalf("RewriteSealed: %v, want the injected crash", err)
		}
		l.Close()
		// The process died: its tmp file is still there.
		if err := os.WriteFile(leftover, leftBytes, 0o644); err != nil {
			t.Fatal(err)
		}
		l = mustOpen(t, dir, o)
		defer l.Close()
		if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Open left %s: %v", leftover, err)
		}
		if got := readAll(t, l, 1<<20); !bytes.Equal(got, before) {
			t.Fatal("content changed by an interrupted rewrite")
		}
	})

	t.Run("after rename", func(t *testing.T) {
		dir, o := rewriteFixture(t, CodecZstd)
		l := mustOpen(t, dir, o)
		first := l.Segments()[0]
		stem := filepath.Join(dir, segmentName(first.BaseOffset))
		oldIndex, err := os.ReadFile(stem + indexSuffix)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.RewriteSealed(first.EndOffset, empty); err != nil {
			t.Fatal(err)
		}
		want := readAll(t, l, 1<<20)
		last := l.LastIndex()
		l.Close()
		// The crash came before the new index was written.
		if err := os.WriteFile(stem+indexSuffix, oldIndex, 0o644); err != nil {
			t.Fatal(err)
		}
		l = mustOpen(t, dir, o)
		defer l.Close()
		if got := readAll(t, l, 1<<20); !bytes.Equal(got, want) {
			t.Fatal("content after reopen differs from the rewritten one")
		}
		if l.LastIndex() != last {
			t.Fatalf("LastIndex %d, want %d", l.LastIndex(), last)
		}
	})
}

// TestRewriteSealedWithSealer runs compaction while the background codec
// rewrite has sealed segments queued: both replace segments, one at a time,
// and the result holds the compacted content in the sealed codec.
func TestRewriteSealedWithSealer(t *testing.T) {
	dir := t.TempDir()
	o := testOpts(t)
	o.SegmentBytes = 2 << 10
	o.DisableBackgroundRewrite = false
	l := mustOpen(t, dir, o)
	defer l.Close()
	rng := rand.New(rand.NewPCG(9, 9))
	appendN(t, l, rng, kindJSON, 60, 2, 2, 40)
	even := mapBatches(func(h BatchHeader, b []byte) []byte {
		if h.BaseOffset%2 == 0 {
			return emptiedBatch(b)
		}
		return b
	})
	if _, err := l.RewriteSealed(l.EndOffset(), even); err != nil {
		t.Fatal(err)
	}
	waitRewritten(t, l, true)
	segs := l.Segments()
	act := segs[len(segs)-1]
	_ = EachBatch(readAll(t, l, 1<<20), func(h BatchHeader, _ []byte) error {
		if h.BaseOffset < act.BaseOffset && h.BaseOffset%2 == 0 && h.RecordCount != 0 {
			t.Fatalf("batch %d in a sealed segment kept %d records", h.BaseOffset, h.RecordCount)
		}
		return nil
	})
}

// TestRewriteSealedClosed: RewriteSealed on a closed log is ErrClosed.
func TestRewriteSealedClosed(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testOpts(t))
	l.Close()
	if _, err := l.RewriteSealed(1, func(b []byte) ([]byte, error) { return b, nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("RewriteSealed on a closed log: %v, want ErrClosed", err)
	}
}
