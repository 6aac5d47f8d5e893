package segment

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWriteErrors injects write, truncate, sync and create failures into the
// append path. Each failed Append returns an error and leaves the log as it
// was (offsets, index, size, data), and a reopen recovers exactly the frames
// that were acknowledged.
func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name  string
		rules []*faultRule
		// broken: later appends keep failing (the partial frame could not be
		// cut); the files are still recovered by a reopen.
		broken bool
	}{
		{"disk full mid-frame", []*faultRule{{op: "write", suffix: logSuffix, partial: 100, count: 1}}, false},
		{"disk full, nothing written", []*faultRule{{op: "write", suffix: logSuffix, count: 1}}, false},
		{"disk full and cut fails", []*faultRule{{op: "write", suffix: logSuffix, partial: 150, count: 1}, {op: "truncate", suffix: logSuffix, count: 1}}, true},
		{"roll: sync fails", []*faultRule{{op: "sync", suffix: logSuffix, count: 1}}, false},
		{"roll: create fails", []*faultRule{{op: "create", suffix: logSuffix, count: 1}}, false},
		{"roll: index write fails", []*faultRule{{op: "write", suffix: indexSuffix + tmpSuffix, count: 1}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ffs := newFaultFS()
			o := testOpts(t)
			o.FS = ffs
			o.SegmentBytes = 4 << 10
			l := mustOpen(t, dir, o)
			rng := rand.New(rand.NewPCG(6, 6))
			acked := appendN(t, l, rng, kindJSON, 8, 1, 3, 100)
			// The next frame crosses SegmentBytes, so it rolls first.
			for l.Size()+2000 <= o.SegmentBytes {
				acked = append(acked, appendN(t, l, rng, kindJSON, 1, 1, 3, 100)...)
			}
			end, last, size, nsegs := l.EndOffset(), l.LastIndex(), l.Size(), len(l.Segments())
			for _, r := range tc.rules {
				ffs.add(r)
			}
			b := testBatches(rng, kindJSON, end, 1, 1, 3, 600)
			err := l.Append(b, last+1, last+1)
			failed := err != nil
			if !failed {
				for _, r := range tc.rules {
					if r.fired == 0 {
						t.Fatalf("rule %s never fired", r)
					}
				}
				// A failed index write is logged, not returned: Open rebuilds it.
				if tc.rules[0].suffix != indexSuffix+tmpSuffix {
					t.Fatal("Append succeeded under a fault")
				}
				acked = append(acked, b)
			} else {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("Append: %v, want the injected ENOSPC", err)
				}
				if l.EndOffset() != end || l.LastIndex() != last || l.Size() != size {
					t.Fatalf("log changed by a failed append: end %d/%d last %d/%d size %d/%d",
						l.EndOffset(), end, l.LastIndex(), last, l.Size(), size)
				}
				// The roll before the write may have happened; nothing else.
				if n := len(l.Segments()); n != nsegs && n != nsegs+1 {
					t.Fatalf("segments %d, want %d or %d", n, nsegs, nsegs+1)
				}
			}
			ffs.clear()
			if !failed {
				b = testBatches(rng, kindJSON, l.EndOffset(), 1, 1, 3, 600)
			}
			err = l.Append(b, l.LastIndex()+1, l.LastIndex()+1)
			switch {
			case tc.broken && err == nil:
				t.Fatal("append after an uncut partial frame succeeded")
			case !tc.broken && err != nil:
				t.Fatalf("append after the fault cleared: %v", err)
			case err == nil:
				acked = append(acked, b)
			}
			want := bytes.Join(acked, nil)
			if got := readAll(t, l, 1<<20); !bytes.Equal(got, want) {
				t.Fatalf("read back %d bytes, want %d", len(got), len(want))
			}
			l.Close()
			l = mustOpen(t, dir, testOpts(t))
			defer l.Close()
			if got := readAll(t, l, 1<<20); !bytes.Equal(got, want) {
				t.Fatalf("after reopen: read back %d bytes, want %d", len(got), len(want))
			}
		})
	}
}

// TestTruncateFront covers retention: whole segments below the new start are
// deleted, the start survives a reopen, reads below it are out of range, and
// a log whose every record was deleted keeps its end offset and LastIndex.
func TestTruncateFront(t *testing.T) {
	dir := t.TempDir()
	o := testOpts(t)
	o.SegmentBytes = 2 << 10
	l := mustOpen(t, dir, o)
	rng := rand.New(rand.NewPCG(8, 8))
	frames := appendN(t, l, rng, kindRandom, 30, 1, 2, 100) // 2 offsets per frame
	segs := l.Segments()
	if len(segs) < 4 {
		t.Fatalf("%d segments", len(segs))
	}
	cut := segs[2].BaseOffset + 1 // inside the third segment
	if err := l.TruncateFront(cut); err != nil {
		t.Fatal(err)
	}
	if got := l.Segments()[0].BaseOffset; got != segs[2].BaseOffset {
		t.Fatalf("first segment %d, want %d", got, segs[2].BaseOffset)
	}
	for _, s := range segs[:2] {
		if _, err := os.Stat(filepath.Join(dir, segmentName(s.BaseOffset)+logSuffix)); !os.IsNotExist(err) {
			t.Fatalf("segment %d not deleted: %v", s.BaseOffset, err)
		}
	}
	if _, err := l.Read(cut-1, 1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read below start: %v", err)
	}
	// The batch holding the start offset is returned whole.
	b, err := l.Read(cut, 1)
	if err != nil || len(b) == 0 {
		t.Fatalf("Read(start): %v", err)
	}
	if h, _ := ParseBatchHeader(b); h.BaseOffset != cut-1 {
		t.Fatalf("Read(start) batch base %d, want %d", h.BaseOffset, cut-1)
	}
	if err := l.TruncateFront(cut - 1); err != nil || l.StartOffset() != cut {
		t.Fatalf("TruncateFront backwards: %v, start %d", err, l.StartOffset())
	}
	if err := l.TruncateFront(l.EndOffset() + 1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("TruncateFront past the end: %v", err)
	}
	l.Close()
	l = mustOpen(t, dir, o)
	if l.StartOffset() != cut {
		t.Fatalf("start after reopen %d, want %d", l.StartOffset(), cut)
	}
	_ = frames
	end, last := l.EndOffset(), l.LastIndex()
	if err := l.TruncateFront(end); err != nil {
		t.Fatal(err)
	}
	if l.StartOffset() != end || len(l.Segments()) != 1 || l.Size() != 0 {
		t.Fatalf("truncate everything: start %d segments %d size %d", l.StartOffset(), len(l.Segments()), l.Size())
	}
	if ts, off := l.MaxTimestamp(); ts != -1 || off != -1 {
		t.Fatalf("MaxTimestamp of an empty log: %d %d", ts, off)
	}
	if b, err := l.Read(end, 100); b != nil || err != nil {
		t.Fatalf("Read(end): %v %v", b, err)
	}
	l.Close()
	l = mustOpen(t, dir, o)
	defer l.Close()
	if l.StartOffset() != end || l.EndOffset() != end || l.LastIndex() != last {
		t.Fatalf("after reopen: start %d end %d last %d, want %d %d %d", l.StartOffset(), l.EndOffset(), l.LastIndex(), end, end, last)
	}
	if err := l.Append(testBatch(end, 1, []byte("x")), last+1, last+1); err != nil {
		t.Fatal(err)
	}
}

// TestTruncateFrontRemoveFails: segments that could not be deleted stay
// below the persisted start; Open finishes deleting them.
func TestTruncateFrontRemoveFails(t *testing.T) {
	dir := t.TempDir()
	ffs := newFaultFS()
	o := testOpts(t)
	o.FS = ffs
	o.SegmentBytes = 2 << 10
	l := mustOpen(t, dir, o)
	appendN(t, l, rand.New(rand.NewPCG(8, 9)), kindRandom, 20, 1, 2, 100)
	segs := l.Segments()
	r := ffs.add(&faultRule{op: "remove", suffix: logSuffix, count: -1, err: syscall.EIO})
	if err := l.TruncateFront(segs[2].BaseOffset); !errors.Is(err, syscall.EIO) {
		t.Fatalf("TruncateFront: %v, want the injected EIO", err)
	}
	if r.fired != 2 || l.StartOffset() != segs[2].BaseOffset {
		t.Fatalf("fired %d, start %d", r.fired, l.StartOffset())
	}
	l.Close()
	ffs.clear()
	l = mustOpen(t, dir, o)
	defer l.Close()
	if got := l.Segments()[0].BaseOffset; got != segs[2].BaseOffset || l.StartOffset() != segs[2].BaseOffset {
		t.Fatalf("after reopen: first segment %d start %d, want %d", got, l.StartOffset(), segs[2].BaseOffset)
	}
	for _, s := range segs[:2] {
		if _, err := os.Stat(filepath.Join(dir, segmentName(s.BaseOffset)+logSuffix)); !os.IsNotExist(err) {
			t.Fatalf("segment %d still there: %v", s.BaseOffset, err)
		}
	}
}

// TestRewriteDoesNotBlock stalls the background rewrite in the middle of
// writing its new file (a slow disk) and checks that Append, Read, Sync,
// Checkpoint and TruncateFront all proceed meanwhile; the segment deleted
// under the rewrite is not resurrected when it resumes, and Close stops it.
func TestRewriteDoesNotBlock(t *testing.T) {
	dir := t.TempDir()
	ffs := newFaultFS()
	o := testOpts(t)
	o.FS = ffs
	o.SegmentBytes = 2 << 10
	o.DisableBackgroundRewrite = false
	block, entered := make(chan struct{}), make(chan struct{})
	ffs.add(&faultRule{op: "write", suffix: ".rewrite" + tmpSuffix, count: -1, block: block, entered: entered})
	l := mustOpen(t, dir, o)
	rng := rand.New(rand.NewPCG(13, 13))
	frames := appendN(t, l, rng, kindJSON, 10, 1, 2, 100)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the rewrite never started")
	}
	done := make(chan error, 1)
	more := make([][]byte, 20) // built here: t.Fatal belongs to this goroutine
	for i := range more {
		more[i] = testBatches(rng, kindJSON, 0, 1000, 1, 2, 100)
	}
	go func() {
		for _, b := range more {
			SetBaseOffset(b, l.EndOffset())
			if err := l.Append(b, l.LastIndex()+1, l.LastIndex()+1); err != nil {
				done <- err
				return
			}
			frames = append(frames, b)
		}
		var got []byte
		for off := int64(0); off < l.EndOffset(); {
			b, err := l.Read(off, 1<<20)
			if err != nil {
				done <- err
				return
			}
			got = append(got, b...)
			var last int64
			EachBatch(b, func(h BatchHeader, _ []byte) error { last = h.LastOffset(); return nil })
			off = last + 1
		}
		if !bytes.Equal(got, bytes.Join(frames, nil)) {
			done <- errors.New("data differs while the rewrite is stalled")
			return
		}
		if err := l.Sync(); err != nil {
			done <- err
			return
		}
		cp, err := l.Checkpoint()
		if err != nil {
			done <- err
			return
		}
		cp.Close()
		done <- l.TruncateFront(l.Segments()[2].BaseOffset) // deletes the segment being rewritten
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Append/Read/Sync/Checkpoint/TruncateFront blocked behind the stalled rewrite")
	}
	start := l.StartOffset()
	close(block)
	waitRewritten(t, l, true)
	if l.Segments()[0].BaseOffset != start {
		t.Fatalf("first segment %d, start %d: a deleted segment came back", l.Segments()[0].BaseOffset, start)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	names, _ := OSFS{}.List(dir)
	for _, n := range names {
		if b, ok := parseSegmentName(n); ok && b < start {
			t.Fatalf("segment file %s below the start %d", n, start)
		}
		if strings.HasSuffix(n, tmpSuffix) {
			t.Fatalf("temporary file %s left after Close", n)
		}
	}
}
