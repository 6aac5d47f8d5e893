package bench

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

func TestPayloads(t *testing.T) {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		mode     string
		size     int
		minRatio float64 // compressed 64 values: original/compressed at least
		maxRatio float64 // and at most
	}{
		{"random", 1024, 0.9, 1.1},
		{"text", 1024, 2, 100},
		{"random", 0, 0, 0},
		{"text", 1 << 20, 2, 100},
	} {
		p := newPayloads(tc.mode, tc.size, 42)
		var all []byte
		for range 64 {
			v := p.next(r)
			if len(v) != tc.size || cap(v) != tc.size {
				t.Fatalf("%s: value len %d cap %d, want %d", tc.mode, len(v), cap(v), tc.size)
			}
			all = append(all, v...)
		}
		if tc.size == 0 {
			continue
		}
		ratio := float64(len(all)) / float64(len(enc.EncodeAll(all, nil)))
		if ratio < tc.minRatio || ratio > tc.maxRatio {
			t.Errorf("%s %d: zstd ratio %.2f, want between %v and %v", tc.mode, tc.size, ratio, tc.minRatio, tc.maxRatio)
		}
		if a, b := p.next(r), p.next(r); bytes.Equal(a, b) {
			t.Errorf("%s: two consecutive values are equal", tc.mode)
		}
	}
}

func TestMakeKey(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	if k := makeKey("none", 7, r); k != nil {
		t.Errorf("none: key %q, want nil", k)
	}
	if k := string(makeKey("sequential", 1234, r)); k != "0000000000001234" {
		t.Errorf("sequential: key %q", k)
	}
	a, b := makeKey("random", 0, r), makeKey("random", 0, r)
	if len(a) != keyLen || bytes.Equal(a, b) {
		t.Errorf("random: keys %q and %q, want two different %d-byte keys", a, b, keyLen)
	}
}

func TestTimestampHeader(t *testing.T) {
	now := time.Now()
	got, ok := decodeTimestamp(encodeTimestamp(now))
	if !ok || !got.Equal(now.Round(0)) {
		t.Errorf("round trip %v -> %v, %v", now, got, ok)
	}
	for _, b := range [][]byte{nil, {1, 2, 3}, make([]byte, 9)} {
		if _, ok := decodeTimestamp(b); ok {
			t.Errorf("decodeTimestamp(%x) accepted a value that is not 8 bytes", b)
		}
	}
}

func BenchmarkPayloadNext(b *testing.B) {
	p := newPayloads("random", 1024, 1)
	r := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		_ = p.next(r)
	}
}
