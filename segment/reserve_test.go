//go:build linux

package segment

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// allocated returns the bytes of disk a file holds (blocks, not its size).
func allocated(t *testing.T, path string) (size, blocks int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size(), fi.Sys().(*syscall.Stat_t).Blocks * 512
}

// TestReserveAhead: the active segment holds blocks past its data (so
// appends do not allocate), its size stays the data's, a sealed segment and
// a closed log give the spare blocks back, and a reopen reads exactly what
// was written.
func TestReserveAhead(t *testing.T) {
	dir := t.TempDir()
	o := testOpts(t)
	o.FS = OSFS{}
	o.SegmentBytes = 8 << 20
	l := mustOpen(t, dir, o)
	rng := rand.New(rand.NewPCG(3, 3))
	acked := appendN(t, l, rng, kindRandom, 4, 1, 4, 1000)
	segs := l.Segments()
	active := filepath.Join(dir, segmentName(segs[len(segs)-1].BaseOffset)+logSuffix)
	size, blocks := allocated(t, active)
	if size != l.Size() {
		t.Fatalf("active segment size %d, log size %d: preallocation must not change the size", size, l.Size())
	}
	if blocks < size+minReserve/2 {
		t.Fatalf("active segment holds %d bytes of blocks for %d of data: nothing reserved ahead", blocks, size)
	}
	// Roll into a new segment: the sealed one keeps only its data's blocks.
	for len(l.Segments()) == len(segs) {
		acked = append(acked, appendN(t, l, rng, kindRandom, 1, 4, 64, 1000)...)
	}
	sealed := active
	if size, blocks := allocated(t, sealed); blocks > size+64<<10 {
		t.Fatalf("sealed segment holds %d bytes of blocks for %d of data", blocks, size)
	}
	segs = l.Segments()
	active = filepath.Join(dir, segmentName(segs[len(segs)-1].BaseOffset)+logSuffix)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if size, blocks := allocated(t, active); blocks > size+64<<10 {
		t.Fatalf("closed active segment holds %d bytes of blocks for %d of data", blocks, size)
	}
	l = mustOpen(t, dir, o)
	defer l.Close()
	if got, want := readAll(t, l, 1<<20), bytes.Join(acked, nil); !bytes.Equal(got, want) {
		t.Fatalf("reopened log reads %d bytes, want %d", len(got), len(want))
	}
}

// TestAppendOwned: AppendOwned stores the same frames as Append, keeps the
// caller's buffer (no copy), and refuses a buffer without headroom.
func TestAppendOwned(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testOpts(t))
	defer l.Close()
	rng := rand.New(rand.NewPCG(4, 4))
	var want [][]byte
	for i := range 20 {
		b := testBatches(rng, kindJSON, l.EndOffset(), 1, 1+i%3, 3, 200)
		buf := append(make([]byte, FrameHeadroom), b...)
		if err := l.AppendOwned(buf, l.LastIndex()+1, l.LastIndex()+1); err != nil {
			t.Fatalf("AppendOwned %d: %v", i, err)
		}
		want = append(want, b)
	}
	if err := l.AppendOwned(make([]byte, FrameHeadroom-1), l.LastIndex()+1, l.LastIndex()+1); err == nil {
		t.Fatal("AppendOwned without headroom succeeded")
	}
	if err := l.AppendOwned(make([]byte, FrameHeadroom), l.LastIndex()+1, l.LastIndex()+1); err != nil {
		t.Fatalf("AppendOwned of no batches (an index-only frame): %v", err)
	}
	if got := readAll(t, l, 1<<20); !bytes.Equal(got, bytes.Join(want, nil)) {
		t.Fatalf("read back %d bytes, want %d", len(got), len(bytes.Join(want, nil)))
	}
}
