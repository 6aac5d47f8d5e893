package shards

import (
	"fmt"
	"testing"
)

// BenchmarkValidateBatches measures produce validation (header parse, CRC-32C
// and the limits) of one partition's 64 KiB of batches, as one batch and as
// 64 batches of 1 KiB; MB/s is of produced bytes.
func BenchmarkValidateBatches(b *testing.B) {
	for _, n := range []int{1, 64} {
		var in []byte
		for range n {
			in = append(in, testBatch((64<<10)/n/10, 1000, -1, -1, -1)...)
		}
		b.Run(fmt.Sprintf("batches=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ValidateBatches(in, 1<<20, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
