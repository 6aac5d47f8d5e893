package segment

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestSharedCache runs logs over one Cache: it holds the frames of all of
// them within its one budget, every log reads back exactly what it
// appended whatever the others evicted, and a log closed gives its frames
// up.
func TestSharedCache(t *testing.T) {
	tests := []struct {
		name   string
		budget int
		logs   int
		frames int // per log, of about 2.4 KiB each
	}{
		{name: "all fit", budget: 1 << 20, logs: 3, frames: 20},
		{name: "evicts across logs", budget: 16 << 10, logs: 3, frames: 40},
		{name: "disabled", budget: -1, logs: 2, frames: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := NewCache(tt.budget)
			rng := rand.New(rand.NewPCG(3, 7))
			logs := make([]*Log, tt.logs)
			want := make([][]byte, tt.logs)
			cached := make([]int, tt.logs) // bytes each log put in, when nothing is evicted
			for i := range logs {
				o := testOpts(t)
				o.Cache = cache
				o.CacheBytes = 1 // unused with a Cache
				logs[i] = mustOpen(t, t.TempDir(), o)
				defer logs[i].Close()
			}
			for n := 0; n < tt.frames; n++ {
				for i, l := range logs {
					f := appendN(t, l, rng, kindRandom, 1, 2, 3, 400)[0]
					want[i] = append(want[i], f...)
					cached[i] += len(f) + frameOverhead
				}
				if tt.budget > 0 && cache.Bytes() > tt.budget {
					t.Fatalf("cache holds %d bytes, budget %d", cache.Bytes(), tt.budget)
				}
			}
			total := 0
			for _, c := range cached {
				total += c
			}
			switch {
			case tt.budget <= 0:
				if cache.Bytes() != 0 {
					t.Fatalf("disabled cache holds %d bytes", cache.Bytes())
				}
			case total <= tt.budget:
				if cache.Bytes() != total {
					t.Fatalf("cache holds %d bytes, want every frame: %d", cache.Bytes(), total)
				}
			default:
				if cache.Bytes() < tt.budget/2 {
					t.Fatalf("cache holds %d bytes of a %d budget after %d bytes went in", cache.Bytes(), tt.budget, total)
				}
			}
			for i, l := range logs {
				if got := readAll(t, l, 1<<20); !bytes.Equal(got, want[i]) {
					t.Fatalf("log %d: read %d bytes that differ from the %d appended", i, len(got), len(want[i]))
				}
			}
			if tt.budget <= 0 || total > tt.budget {
				return
			}
			if err := logs[0].Close(); err != nil {
				t.Fatal(err)
			}
			if got, left := cache.Bytes(), total-cached[0]; got != left {
				t.Fatalf("after closing a log the cache holds %d bytes, want the others' %d", got, left)
			}
		})
	}
}
