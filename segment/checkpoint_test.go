package segment

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestCheckpointRestore streams a checkpoint taken while appends, retention
// and background rewrites continue, restores it over another log and checks
// the restored log is exactly the pinned image.
func TestCheckpointRestore(t *testing.T) {
	dir := t.TempDir()
	o := testOpts(t)
	o.SegmentBytes = 4 << 10
	o.DisableBackgroundRewrite = false
	l := mustOpen(t, dir, o)
	defer l.Close()
	rng := rand.New(rand.NewPCG(9, 9))
	frames := appendN(t, l, rng, kindJSON, 20, 1, 3, 80)
	if err := l.TruncateFront(3); err != nil {
		t.Fatal(err)
	}
	cp, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	start, end, last := l.StartOffset(), l.EndOffset(), l.LastIndex()
	if cp.LastIndex() != last {
		t.Fatalf("checkpoint last index %d, want %d", cp.LastIndex(), last)
	}
	// The log moves on: more appends, a roll, retention of pinned segments.
	appendN(t, l, rng, kindJSON, 20, 1, 3, 80)
	if err := l.TruncateFront(l.Segments()[2].BaseOffset); err != nil {
		t.Fatal(err)
	}
	waitRewritten(t, l, true)
	var buf bytes.Buffer
	if _, err := cp.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if err := cp.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.WriteTo(&buf); !errors.Is(err, ErrClosed) {
		t.Fatalf("WriteTo after Close: %v", err)
	}
	stream := buf.Bytes()

	// Restore over an existing, different log.
	dst := filepath.Join(t.TempDir(), "p")
	other := mustOpen(t, dst, testOpts(t))
	appendN(t, other, rng, kindRandom, 3, 1, 1, 10)
	other.Close()
	if err := Restore(dst, bytes.NewReader(stream), testOpts(t)); err != nil {
		t.Fatal(err)
	}
	r := mustOpen(t, dst, testOpts(t))
	defer r.Close()
	if r.StartOffset() != start || r.EndOffset() != end || r.LastIndex() != last {
		t.Fatalf("restored start %d end %d last %d, want %d %d %d", r.StartOffset(), r.EndOffset(), r.LastIndex(), start, end, last)
	}
	// The first batch served may begin below the start offset.
	var want []byte
	for _, f := range frames {
		h, _ := ParseBatchHeader(f)
		if h.LastOffset() >= start {
			want = append(want, f...)
		}
	}
	if got := readAll(t, r, 1<<20); !bytes.Equal(got, want) {
		t.Fatalf("restored data differs: %d bytes, want %d", len(got), len(want))
	}
	for _, s := range r.Segments()[:len(r.Segments())-1] {
		if _, _, err := readIndexes(OSFS{}, dst, s.BaseOffset); err != nil {
			t.Fatalf("restored sealed segment %d has no index: %v", s.BaseOffset, err)
		}
	}
	if err := r.Append(testBatch(end, 1, []byte("next")), last+1, last+1); err != nil {
		t.Fatal(err)
	}

	// Every damaged or cut stream is refused and leaves the target alone.
	for _, bad := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"cut", stream[:len(stream)/2]},
		{"no trailer", stream[:len(stream)-1]},
		{"flipped", flip(stream, len(stream)/3)},
		{"flipped header", flip(stream, 9)},
	} {
		d := filepath.Join(t.TempDir(), "q")
		if err := Restore(d, bytes.NewReader(bad.b), testOpts(t)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: Restore: %v, want ErrCorrupt", bad.name, err)
		}
		if _, err := os.Stat(restoreTmp(d)); !os.IsNotExist(err) {
			t.Fatalf("%s: temporary directory left behind", bad.name)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x20
	return c
}

// TestRestoreInterrupted: a crash after the old directory was moved aside
// but before the new one was moved in is finished by Open.
func TestRestoreInterrupted(t *testing.T) {
	src := t.TempDir()
	l := mustOpen(t, src, testOpts(t))
	appendN(t, l, rand.New(rand.NewPCG(1, 2)), kindJSON, 5, 1, 2, 50)
	cp, _ := l.Checkpoint()
	var buf bytes.Buffer
	if _, err := cp.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	cp.Close()
	end := l.EndOffset()
	l.Close()

	dst := filepath.Join(t.TempDir(), "p")
	if err := Restore(dst, bytes.NewReader(buf.Bytes()), testOpts(t)); err != nil {
		t.Fatal(err)
	}
	// Simulate the crash window: new contents in tmp, old moved aside.
	if err := os.Rename(dst, restoreTmp(dst)); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(restoreOld(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	r := mustOpen(t, dst, testOpts(t))
	defer r.Close()
	if r.EndOffset() != end {
		t.Fatalf("end %d, want %d", r.EndOffset(), end)
	}
	for _, p := range []string{restoreTmp(dst), restoreOld(dst)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s left behind", p)
		}
	}
}
