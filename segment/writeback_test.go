package segment

import (
	"math/rand/v2"
	"testing"
)

// TestWriteback checks that the active segment starts writing its data out
// once writebackBytes have gathered, not before, and that the data reads
// back the same.
func TestWriteback(t *testing.T) {
	o := testOpts(t)
	o.SegmentBytes = 64 << 20 // one segment
	l := mustOpen(t, t.TempDir(), o)
	defer l.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	active := func() *segment { return l.segs[len(l.segs)-1] }

	// About 100 KiB: under writebackBytes.
	frames := appendN(t, l, rng, kindRandom, 10, 1, 10, 1024)
	if got := active().writtenBack; got != 0 {
		t.Fatalf("writeback started at %d bytes, before %d", got, writebackBytes)
	}
	// About 3 MiB more: started, and covering all but the last window.
	frames = append(frames, appendN(t, l, rng, kindRandom, 300, 1, 10, 1024)...)
	s := active()
	if s.writtenBack == 0 || s.meta.Size-s.writtenBack >= writebackBytes {
		t.Fatalf("writeback up to %d of %d bytes, want within %d of the end", s.writtenBack, s.meta.Size, writebackBytes)
	}
	var want []byte
	for _, f := range frames {
		want = append(want, f...)
	}
	if got := readAll(t, l, 1<<20); string(got) != string(want) {
		t.Fatalf("read %d bytes back, appended %d", len(got), len(want))
	}
}
