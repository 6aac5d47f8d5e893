package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/chronik-io/chronik/segment"
	"github.com/chronik-io/chronik/shards"
)

// BenchmarkValidateProduce measures what the leader does to a produce's
// bytes before proposing them: one validation walk over the batch headers
// (which also yields the hooks' counts), plus the records' key check for a
// compacted topic. 64 KiB of 1 KiB records, as one batch and as 64 batches;
// MB/s is of produced bytes.
func BenchmarkValidateProduce(b *testing.B) {
	for _, n := range []int{1, 64} {
		var in []byte
		for range n {
			recs := make([]Record, 64/n)
			for i := range recs {
				recs[i] = Record{Key: fmt.Appendf(nil, "key-%d", i), Value: make([]byte, 1000)}
			}
			in = append(in, EncodeBatch(recs, time.UnixMilli(1))...)
		}
		for _, compacted := range []bool{false, true} {
			var each func(segment.BatchHeader, []byte) error
			if compacted {
				each = func(h segment.BatchHeader, b []byte) error { return requireKeys(h, b, 1<<20) }
			}
			b.Run(fmt.Sprintf("batches=%d/compacted=%v", n, compacted), func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := shards.ValidateBatches(in, 1<<20, each); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
