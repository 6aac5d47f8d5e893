package segment

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// Benchmarks of the append and read paths: 64 KiB appends of 1 KiB records
// (one batch of 64 records per append, as a busy producer sends), for each
// codec, on random and on JSON-like values. b.SetBytes counts input bytes, so
// MB/s is input throughput. Run with -count 3 and take the median.

const (
	benchRecSize   = 1 << 10
	benchPerBatch  = 64
	benchBatchSize = benchRecSize * benchPerBatch // 64 KiB of values
)

// benchFrames prebuilds n append payloads starting at offset 0.
func benchFrames(kind payloadKind, n int) [][]byte {
	rng := rand.New(rand.NewPCG(7, 7))
	out := make([][]byte, n)
	for i := range out {
		out[i] = testBatches(rng, kind, int64(i*benchPerBatch), int64(i*benchPerBatch), 1, benchPerBatch, benchRecSize)
	}
	return out
}

// rebase rewrites the base offsets of a one-batch payload.
func rebase(b []byte, base int64) { SetBaseOffset(b, base) }

func BenchmarkAppend(b *testing.B) {
	for _, kind := range []payloadKind{kindRandom, kindJSON} {
		frames := benchFrames(kind, 64)
		for _, c := range []Codec{CodecNone, CodecS2, CodecLZ4, CodecZstd} {
			b.Run(fmt.Sprintf("%s/%s", kind, c), func(b *testing.B) {
				o := &Options{ActiveCodec: c, ActiveCodecSet: true, DisableBackgroundRewrite: true, SegmentBytes: 256 << 20}
				l, err := Open(b.TempDir(), o)
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				b.SetBytes(int64(len(frames[0])))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					f := frames[i%len(frames)]
					rebase(f, l.EndOffset())
					if err := l.Append(f, uint64(i+1), uint64(i+1)); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(l.Size())/float64(int64(b.N)*int64(len(frames[0]))), "stored/input")
			})
		}
	}
}

// BenchmarkSeal measures the background rewrite (zstd) of a sealed segment
// of 8 MiB of input and reports the stored/input ratio once sealed, for
// 64 KiB appends and for 4 KiB appends (small frames merged by the rewrite).
func BenchmarkSeal(b *testing.B) {
	for _, kind := range []payloadKind{kindRandom, kindJSON} {
		big := benchFrames(kind, 128) // 8 MiB of input
		rng := rand.New(rand.NewPCG(7, 8))
		small := make([][]byte, 2048) // 8 MiB in 4 KiB appends
		for i := range small {
			small[i] = testBatches(rng, kind, 0, int64(i*4), 1, 4, benchRecSize)
		}
		for _, tc := range []struct {
			name   string
			frames [][]byte
			active Codec
		}{{"64KiB/from-none", big, CodecNone}, {"64KiB/from-s2", big, CodecS2}, {"4KiB/from-none", small, CodecNone}} {
			frames, active := tc.frames, tc.active
			b.Run(fmt.Sprintf("%s/%s", kind, tc.name), func(b *testing.B) {
				var input int64
				for _, f := range frames {
					input += int64(len(f))
				}
				b.SetBytes(input)
				var ratio float64
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					dir := b.TempDir()
					o := &Options{ActiveCodec: active, ActiveCodecSet: true, DisableBackgroundRewrite: true}
					l, err := Open(dir, o)
					if err != nil {
						b.Fatal(err)
					}
					for j, f := range frames {
						rebase(f, l.EndOffset())
						if err := l.Append(f, uint64(j+1), uint64(j+1)); err != nil {
							b.Fatal(err)
						}
					}
					if err := l.roll(); err != nil {
						b.Fatal(err)
					}
					l.mu.RLock()
					seg := l.segs[0]
					seg.acquire()
					l.mu.RUnlock()
					s := &sealer{l: l, target: CodecZstd, quit: make(chan struct{})}
					b.StartTimer()
					if err := s.rewrite(seg); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					seg.release()
					ratio = float64(l.Segments()[0].Size) / float64(input)
					l.Close()
					b.StartTimer()
				}
				b.ReportMetric(ratio, "stored/input")
			})
		}
	}
}

// BenchmarkReadCached reads 1 MiB fetches from the cached tail.
func BenchmarkReadCached(b *testing.B) {
	for _, kind := range []payloadKind{kindRandom, kindJSON} {
		frames := benchFrames(kind, 64)
		for _, c := range []Codec{CodecNone, CodecS2, CodecLZ4, CodecZstd} {
			b.Run(fmt.Sprintf("%s/%s", kind, c), func(b *testing.B) {
				benchRead(b, frames, c, 32<<20, 1<<20, false)
			})
		}
	}
}

// BenchmarkReadVCached is BenchmarkReadCached through ReadV (no
// concatenation of the frames' batches).
func BenchmarkReadVCached(b *testing.B) {
	frames := benchFrames(kindJSON, 64)
	for _, c := range []Codec{CodecNone, CodecZstd} {
		b.Run(fmt.Sprintf("json/%s", c), func(b *testing.B) {
			benchRead(b, frames, c, 32<<20, 1<<20, true)
		})
	}
}

// BenchmarkReadUncached reads 1 MiB fetches with no cache: every frame is
// read from the file and decompressed.
func BenchmarkReadUncached(b *testing.B) {
	for _, kind := range []payloadKind{kindRandom, kindJSON} {
		frames := benchFrames(kind, 64)
		for _, c := range []Codec{CodecNone, CodecS2, CodecLZ4, CodecZstd} {
			b.Run(fmt.Sprintf("%s/%s", kind, c), func(b *testing.B) {
				benchRead(b, frames, c, -1, 1<<20, false)
			})
		}
	}
}

func benchRead(b *testing.B, frames [][]byte, c Codec, cache, maxBytes int, vectored bool) {
	o := &Options{ActiveCodec: c, ActiveCodecSet: true, DisableBackgroundRewrite: true, CacheBytes: cache}
	l, err := Open(b.TempDir(), o)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for j, f := range frames {
		rebase(f, l.EndOffset())
		if err := l.Append(f, uint64(j+1), uint64(j+1)); err != nil {
			b.Fatal(err)
		}
	}
	end := l.EndOffset()
	first, err := l.Read(0, maxBytes)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(first))) // whole batches: a little under maxBytes
	b.ReportAllocs()
	b.ResetTimer()
	off := int64(0)
	for i := 0; i < b.N; i++ {
		n := 0
		if vectored {
			parts, err := l.ReadV(off, maxBytes)
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range parts {
				n += len(p)
			}
		} else {
			out, err := l.Read(off, maxBytes)
			if err != nil {
				b.Fatal(err)
			}
			n = len(out)
		}
		off += int64(n / (benchBatchSize + 1) * benchPerBatch)
		if off >= end-int64(benchPerBatch*16) {
			off = 0
		}
	}
}

// BenchmarkZstdLevels compares zstd levels on 256 KiB of JSON-like batches
// (the size of a rewritten frame): the choice of SpeedFastest for sealing.
func BenchmarkZstdLevels(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 7))
	in := testBatches(rng, kindJSON, 0, 0, 4, benchPerBatch, benchRecSize)
	for _, lv := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression} {
		b.Run(lv.String(), func(b *testing.B) {
			e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(lv))
			if err != nil {
				b.Fatal(err)
			}
			var out []byte
			b.SetBytes(int64(len(in)))
			for i := 0; i < b.N; i++ {
				out = e.EncodeAll(in, out[:0])
			}
			b.ReportMetric(float64(len(out))/float64(len(in)), "stored/input")
		})
	}
}
