package segment

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRoundTripCodecs appends frames with every active codec (rolling many
// small segments), reads everything back, reopens, rewrites sealed segments
// to every sealed codec and reads again.
func TestRoundTripCodecs(t *testing.T) {
	codecs := []Codec{CodecNone, CodecZstd, CodecS2, CodecLZ4}
	for _, active := range codecs {
		for _, kind := range []payloadKind{kindRandom, kindJSON} {
			t.Run(active.String()+"/"+string(kind), func(t *testing.T) {
				dir := t.TempDir()
				o := testOpts(t)
				o.SegmentBytes = 8 << 10
				o.ActiveCodec, o.ActiveCodecSet = active, true
				l := mustOpen(t, dir, o)
				rng := rand.New(rand.NewPCG(1, uint64(active)))
				frames := appendN(t, l, rng, kind, 60, 3, 4, 300)
				want := bytes.Join(frames, nil)
				if got := readAll(t, l, 1<<20); !bytes.Equal(got, want) {
					t.Fatalf("read back %d bytes, want %d (equal=%v)", len(got), len(want), bytes.Equal(got, want))
				}
				if got := readAll(t, l, 1); !bytes.Equal(got, want) {
					t.Fatalf("one batch at a time: read back differs")
				}
				if n := len(l.Segments()); n < 3 {
					t.Fatalf("%d segments, want several (rolls by size)", n)
				}
				end, last := l.EndOffset(), l.LastIndex()
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				for _, sealed := range codecs {
					o2 := testOpts(t)
					o2.ActiveCodec, o2.ActiveCodecSet = active, true
					o2.SealedCodec, o2.SealedCodecSet = sealed, true
					o2.DisableBackgroundRewrite = false
					l = mustOpen(t, dir, o2)
					if l.EndOffset() != end || l.LastIndex() != last {
						t.Fatalf("reopen: end %d last %d, want %d %d", l.EndOffset(), l.LastIndex(), end, last)
					}
					waitRewritten(t, l, sealed != active)
					if got := readAll(t, l, 1<<20); !bytes.Equal(got, want) {
						t.Fatalf("sealed %s: read back differs", sealed)
					}
					if err := l.Close(); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}

// waitRewritten waits until every sealed segment reports Rewritten (or, if
// want is false, checks none is).
func waitRewritten(t testing.TB, l *Log, want bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		done := true
		for _, s := range l.Segments() {
			if s.Sealed && !s.Rewritten {
				done = false
			}
		}
		if !want || done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sealed segments not rewritten: %+v", l.Segments())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAppendRejects checks every kind of bad Append and that the log is
// unchanged afterwards.
func TestAppendRejects(t *testing.T) {
	l := mustOpen(t, t.TempDir(), testOpts(t))
	defer l.Close()
	good := testBatch(0, 100, []byte("a"), []byte("b"))
	if err := l.Append(good, 1, 1); err != nil {
		t.Fatal(err)
	}
	magic1 := testBatch(2, 100, []byte("c"))
	magic1[16] = 1
	short := testBatch(2, 100, []byte("c"))
	short = short[:len(short)-1]
	o := testOpts(t)
	o.MaxFrameBytes = 1000
	small := mustOpen(t, t.TempDir(), o)
	defer small.Close()
	tests := []struct {
		name        string
		log         *Log
		batches     []byte
		first, last uint64
		want        error
	}{
		{"offset below end", l, testBatch(1, 100, []byte("c")), 2, 2, ErrOutOfOrder},
		{"offset gap", l, testBatch(3, 100, []byte("c")), 2, 2, ErrOutOfOrder},
		{"second batch gap", l, append(testBatch(2, 100, []byte("c")), testBatch(4, 100, []byte("d"))...), 2, 2, ErrOutOfOrder},
		{"raft index not after last", l, testBatch(2, 100, []byte("c")), 1, 1, ErrOutOfOrder},
		{"raft range reversed", l, testBatch(2, 100, []byte("c")), 3, 2, ErrOutOfOrder},
		{"raft range overlaps the last", l, testBatch(2, 100, []byte("c")), 1, 3, ErrOutOfOrder},
		{"magic 1", l, magic1, 2, 2, ErrInvalidBatch},
		{"truncated batch", l, short, 2, 2, ErrInvalidBatch},
		{"garbage", l, []byte("not a batch"), 2, 2, ErrInvalidBatch},
		{"frame too large", small, testBatch(0, 1, make([]byte, 2000)), 1, 1, ErrFrameTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			end, last, size := tc.log.EndOffset(), tc.log.LastIndex(), tc.log.Size()
			err := tc.log.Append(tc.batches, tc.first, tc.last)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Append: %v, want %v", err, tc.want)
			}
			if tc.log.EndOffset() != end || tc.log.LastIndex() != last || tc.log.Size() != size {
				t.Fatalf("log changed by a rejected append")
			}
		})
	}
	if err := l.Append(testBatch(2, 100, []byte("c")), 2, 2); err != nil {
		t.Fatalf("good append after rejects: %v", err)
	}
}

// TestSealMergesFrames: the background rewrite merges small frames into
// larger zstd frames (fewer frames, JSON-like text <= 0.4 of its input), and
// the sealed segment keeps its offsets, Raft indexes and timestamps.
func TestSealMergesFrames(t *testing.T) {
	dir := t.TempDir()
	o := testOpts(t)
	o.SegmentBytes = 128 << 10
	o.IndexIntervalBytes = 1
	l := mustOpen(t, dir, o)
	rng := rand.New(rand.NewPCG(12, 12))
	frames := appendN(t, l, rng, kindJSON, 200, 1, 4, 200)
	if err := l.Append(nil, l.LastIndex()+1, l.LastIndex()+2); err != nil { // an empty frame in the middle
		t.Fatal(err)
	}
	frames = append(frames, appendN(t, l, rng, kindJSON, 200, 1, 4, 200)...)
	before := l.Segments()
	l.Close()
	o.DisableBackgroundRewrite = false
	l = mustOpen(t, dir, o)
	defer l.Close()
	waitRewritten(t, l, true)
	after := l.Segments()
	var input int64
	for _, f := range frames {
		input += int64(len(f))
	}
	for i, s := range after[:len(after)-1] {
		b := before[i]
		if s.BaseOffset != b.BaseOffset || s.EndOffset != b.EndOffset || s.FirstIndex != b.FirstIndex ||
			s.LastIndex != b.LastIndex || s.MaxTimestamp != b.MaxTimestamp || !s.Created.Equal(b.Created) {
			t.Fatalf("segment %d changed by the rewrite: %+v, was %+v", i, s, b)
		}
		n := countFrames(t, filepath.Join(dir, segmentName(s.BaseOffset)+logSuffix))
		if int64(n) > s.Size/(64<<10)+2 {
			t.Fatalf("segment %d has %d frames after the rewrite for %d bytes: not merged", i, n, s.Size)
		}
		if ratio := float64(s.Size) / float64(b.Size); ratio > 0.4 {
			t.Fatalf("segment %d sealed at %.2f of its input", i, ratio)
		}
	}
	if got := readAll(t, l, 1); !bytes.Equal(got, bytes.Join(frames, nil)) {
		t.Fatal("data differs after the rewrite")
	}
	if off, _, ok, err := l.OffsetForTimestamp(1000 + 1234); err != nil || !ok || off != 1234 {
		t.Fatalf("OffsetForTimestamp after the rewrite: %d %v %v", off, ok, err)
	}
}

func countFrames(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for pos := 0; pos < len(b); n++ {
		h, err := parseFrameHeader(b[pos:])
		if err != nil {
			t.Fatal(err)
		}
		pos += int(h.size())
	}
	return n
}
