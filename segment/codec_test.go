package segment

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestFrameHeaderCodec round-trips frame headers and checks that every kind
// of malformed header is refused.
func TestFrameHeaderCodec(t *testing.T) {
	valid := frameHeader{Codec: CodecZstd, FirstIndex: 5, LastIndex: 9, BaseOffset: 100, LastOffset: 163,
		MaxTs: 1700, MaxTsOff: 130, AppendTime: 42, Records: 64, StoredLen: 900, OrigLen: 4000}
	tests := []struct {
		name   string
		mutate func(h *frameHeader, b []byte)
		ok     bool
	}{
		{"valid", func(*frameHeader, []byte) {}, true},
		{"empty frame", func(h *frameHeader, b []byte) {
			h.LastOffset, h.StoredLen, h.OrigLen, h.Codec, h.MaxTs, h.MaxTsOff = 99, 0, 0, CodecNone, -1, -1
		}, true},
		{"raw frame", func(h *frameHeader, b []byte) { h.Codec, h.StoredLen = CodecNone, h.OrigLen }, true},
		{"bad magic", func(_ *frameHeader, b []byte) { b[0] ^= 1 }, false},
		{"bad version", func(_ *frameHeader, b []byte) { b[4] = 9 }, false},
		{"unknown codec", func(h *frameHeader, b []byte) { h.Codec = 7 }, false},
		{"unknown flag", func(h *frameHeader, b []byte) { h.Flags = 0x80 }, false},
		{"index range reversed", func(h *frameHeader, b []byte) { h.FirstIndex = 10 }, false},
		{"negative base", func(h *frameHeader, b []byte) { h.BaseOffset = -1 }, false},
		{"last below base-1", func(h *frameHeader, b []byte) { h.LastOffset = 98 }, false},
		{"stored too long", func(h *frameHeader, b []byte) { h.StoredLen = hardMaxFrameBytes + 1 }, false},
		{"raw with length mismatch", func(h *frameHeader, b []byte) { h.Codec = CodecNone }, false},
		{"empty with payload", func(h *frameHeader, b []byte) { h.LastOffset = 99 }, false},
		{"empty with a codec", func(h *frameHeader, b []byte) {
			h.LastOffset, h.StoredLen, h.OrigLen, h.Codec = 99, 0, 0, CodecS2
		}, false},
		{"records with tiny payload", func(h *frameHeader, b []byte) { h.OrigLen = 10 }, false},
		{"short", func(_ *frameHeader, b []byte) {}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := valid
			b := make([]byte, frameHeaderSize)
			tc.mutate(&h, b)
			putFrameHeader(b, &h)
			tc.mutate(&h, b) // byte-level mutations apply after encoding
			if tc.name == "short" {
				b = b[:frameHeaderSize-1]
			}
			got, err := parseFrameHeader(b)
			if (err == nil) != tc.ok {
				t.Fatalf("parse: err %v, want ok=%v", err, tc.ok)
			}
			if tc.ok {
				got.CRC = h.CRC
				if got != h {
					t.Fatalf("round trip: %+v, want %+v", got, h)
				}
			}
		})
	}
}

// TestCodecs compresses and decompresses with every codec, including empty,
// incompressible and damaged inputs.
func TestCodecs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	inputs := map[string][]byte{
		"small": []byte("hello"),
		"json":  testValue(rng, kindJSON, 100_000),
		"rand":  testValue(rng, kindRandom, 50_000),
		"zeros": make([]byte, 70_000),
	}
	for _, c := range []Codec{CodecNone, CodecZstd, CodecS2, CodecLZ4} {
		for name, in := range inputs {
			t.Run(c.String()+"/"+name, func(t *testing.T) {
				out, ok := compress(c, []byte("prefix"), in)
				if !bytes.HasPrefix(out, []byte("prefix")) {
					t.Fatal("compress lost dst's prefix")
				}
				if !ok {
					if c != CodecNone && (name == "json" || name == "zeros") {
						t.Fatalf("%s did not compress %s", c, name)
					}
					return
				}
				enc := out[len("prefix"):]
				got, err := decompress(c, enc, len(in))
				if err != nil || !bytes.Equal(got, in) {
					t.Fatalf("decompress: %v (equal=%v)", err, bytes.Equal(got, in))
				}
				if _, err := decompress(c, enc, len(in)+1); err == nil {
					t.Fatal("wrong original length accepted")
				}
				if len(enc) > 8 {
					bad := bytes.Clone(enc[:len(enc)/2])
					if got, err := decompress(c, bad, len(in)); err == nil && bytes.Equal(got, in) {
						t.Fatal("half a stream decoded to the input")
					}
				}
			})
		}
	}
}

func TestParseCodec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Codec
		ok   bool
	}{{"none", CodecNone, true}, {"zstd", CodecZstd, true}, {"s2", CodecS2, true}, {"lz4", CodecLZ4, true},
		{"gzip", 0, false}, {"", 0, false}, {"ZSTD", 0, false}} {
		got, err := ParseCodec(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseCodec(%q) = %v, %v", tc.in, got, err)
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("String() = %q", got.String())
		}
	}
}

// TestBatchHelpers covers header parsing, CRC checks and the setters.
func TestBatchHelpers(t *testing.T) {
	b := testBatch(10, 500, []byte("a"), []byte("bb"), []byte("ccc"))
	h, err := ParseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.BaseOffset != 10 || h.LastOffset() != 12 || h.RecordCount != 3 || h.MaxTimestamp != 502 || h.Size() != len(b) || h.Magic != 2 {
		t.Fatalf("header %+v", h)
	}
	if err := VerifyBatchCRC(b); err != nil {
		t.Fatal(err)
	}
	SetBaseOffset(b, 77)
	SetPartitionLeaderEpoch(b, 9)
	if err := VerifyBatchCRC(b); err != nil {
		t.Fatalf("base offset and epoch are outside the CRC: %v", err)
	}
	SetLogAppendTime(b, 9999)
	h, _ = ParseBatchHeader(b)
	if err := VerifyBatchCRC(b); err != nil || !h.LogAppendTime() || h.MaxTimestamp != 9999 || h.BaseOffset != 77 || h.PartitionLeaderEpoch != 9 {
		t.Fatalf("after setters: %+v %v", h, err)
	}
	SetMaxTimestamp(b, 1234)
	if err := VerifyBatchCRC(b); err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	if err := VerifyBatchCRC(b); !errors.Is(err, ErrInvalidBatch) {
		t.Fatalf("damaged batch: %v", err)
	}
	two := append(testBatch(0, 1, []byte("x")), testBatch(1, 1, []byte("y"), []byte("z"))...)
	parts, err := SplitBatches(two)
	if err != nil || len(parts) != 2 {
		t.Fatalf("SplitBatches: %d, %v", len(parts), err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"short", two[:20]},
		{"trailing bytes", append(bytes.Clone(two), 1, 2, 3)},
		{"magic 0", func() []byte { c := bytes.Clone(two); c[16] = 0; return c }()},
		{"length too small", func() []byte { c := bytes.Clone(two); c[11] = 3; c[10], c[9], c[8] = 0, 0, 0; return c }()},
		{"negative count", func() []byte { c := bytes.Clone(two); c[57] = 0xff; return c }()},
	} {
		if _, err := SplitBatches(tc.b); !errors.Is(err, ErrInvalidBatch) {
			t.Errorf("%s: %v, want ErrInvalidBatch", tc.name, err)
		}
	}
}
