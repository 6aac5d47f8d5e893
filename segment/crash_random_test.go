package segment

import (
	"bytes"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestCrashRandom runs random appends (some empty), syncs, rolls,
// retention and background rewrites on an in-memory file system, cuts the
// power at a random moment (keeping only synced data and directory entries,
// plus a random part of unsynced appends), reopens and checks:
//
//   - Open succeeds: no crash point leaves a sealed segment damaged;
//   - LastIndex is at least the index of the last completed Sync;
//   - EndOffset and the data are exactly those of the frames up to
//     LastIndex (a prefix, no hole), from the persisted start offset;
//
// then carries on from the recovered state, as Raft would re-apply.
func TestCrashRandom(t *testing.T) {
	seeds := 12
	if testing.Short() {
		seeds = 3
	}
	if n, err := strconv.Atoi(os.Getenv("SEGMENT_CRASH_SEEDS")); err == nil {
		seeds = n // longer soak runs
	}
	from, _ := strconv.Atoi(os.Getenv("SEGMENT_CRASH_FROM"))
	for seed := from; seed < seeds; seed++ {
		rng := rand.New(rand.NewPCG(uint64(seed), 99))
		fsys := newMemFS()
		const dir = "/data/p0"
		type frame struct {
			last uint64
			end  int64
			data []byte
		}
		var hist []frame // frames appended and not lost, in order
		var synced uint64
		var start int64
		opts := func() *Options {
			return &Options{FS: fsys, SegmentBytes: 1500 + int64(rng.IntN(3000)), IndexIntervalBytes: 1 + rng.IntN(600),
				CacheBytes: rng.IntN(3) * 4096, Logger: testLogger(t), ActiveCodec: Codec(rng.IntN(4)), ActiveCodecSet: true,
				SealedCodec: Codec(rng.IntN(4)), SealedCodecSet: true}
		}
		for round := 0; round < 8; round++ {
			l, err := Open(dir, opts())
			if err != nil {
				t.Fatalf("seed %d round %d: Open: %v", seed, round, err)
			}
			// Check the recovered state against the history.
			li := l.LastIndex()
			if li < synced {
				t.Fatalf("seed %d round %d: LastIndex %d below the synced %d", seed, round, li, synced)
			}
			for len(hist) > 0 && hist[len(hist)-1].last > li {
				hist = hist[:len(hist)-1]
			}
			wantEnd := int64(0)
			if len(hist) > 0 {
				wantEnd = hist[len(hist)-1].end
			}
			if len(hist) > 0 && hist[len(hist)-1].last != li {
				t.Fatalf("seed %d round %d: LastIndex %d is no frame boundary", seed, round, li)
			}
			if l.EndOffset() != wantEnd || l.StartOffset() != start {
				t.Fatalf("seed %d round %d: end %d start %d, want %d %d", seed, round, l.EndOffset(), l.StartOffset(), wantEnd, start)
			}
			var want []byte
			for _, f := range hist {
				if f.end > start {
					want = append(want, f.data...)
				}
			}
			got := readAll(t, l, 1+rng.IntN(3000))
			// The first frame kept may begin with batches wholly below start.
			if !bytes.HasSuffix(want, got) || len(got) == 0 && len(want) > 0 && wantEnd > start {
				t.Fatalf("seed %d round %d: data differs (%d bytes, want a suffix of %d)", seed, round, len(got), len(want))
			}
			if rest := want[:len(want)-len(got)]; len(rest) > 0 {
				if err := EachBatch(rest, func(h BatchHeader, _ []byte) error {
					if h.LastOffset() >= start {
						t.Fatalf("seed %d round %d: batch %d-%d at or after start %d not read", seed, round, h.BaseOffset, h.LastOffset(), start)
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			// Random operations, then a power cut at a random moment.
			ops := 20 + rng.IntN(60)
			for op := 0; op < ops; op++ {
				switch r := rng.IntN(100); {
				case r < 75:
					end, last := l.EndOffset(), l.LastIndex()
					var b []byte
					n := uint64(1)
					if rng.IntN(10) == 0 {
						n = uint64(1 + rng.IntN(3))
					} else {
						b = testBatches(rng, payloadKind([]string{"json", "random"}[rng.IntN(2)]), end, 1000+end,
							1+rng.IntN(3), 1+rng.IntN(4), 10+rng.IntN(200))
					}
					if err := l.Append(b, last+1, last+n); err != nil {
						t.Fatalf("seed %d round %d: Append: %v", seed, round, err)
					}
					hist = append(hist, frame{last: last + n, end: l.EndOffset(), data: b})
					if os.Getenv("SEGMENT_CRASH_TRACE") != "" {
						t.Logf("append idx %d-%d end %d segs %d", last+1, last+n, l.EndOffset(), len(l.Segments()))
					}
				case r < 88:
					if err := l.Sync(); err != nil {
						t.Fatal(err)
					}
					synced = l.LastIndex()
					if os.Getenv("SEGMENT_CRASH_TRACE") != "" {
						t.Logf("sync %d", synced)
					}
				case r < 93:
					if s, e := l.StartOffset(), l.EndOffset(); e > s {
						to := s + rng.Int64N(e-s+1)
						if err := l.TruncateFront(to); err != nil {
							t.Fatalf("seed %d round %d: TruncateFront: %v", seed, round, err)
						}
						if to > start { // a no-op TruncateFront does not sync
							synced = l.LastIndex()
						}
						start = to
						if os.Getenv("SEGMENT_CRASH_TRACE") != "" {
							t.Logf("truncate front %d synced %d segs %+v", to, synced, l.Segments())
						}
					}
				default:
					time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond) // let the rewrite run
				}
			}
			crashed := fsys.crash(rng)
			l.Close()
			fsys = crashed
		}
	}
}
