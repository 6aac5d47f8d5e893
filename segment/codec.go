package segment

import (
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Codec identifies a frame codec. The numbers are stored in frame headers and
// never change.
type Codec uint8

// Frame codecs.
const (
	// CodecNone stores the payload as is.
	CodecNone Codec = 0
	// CodecZstd is zstd (klauspost/compress/zstd, level SpeedFastest): the
	// best ratio of the four, too slow for the append path, so used for
	// sealed segments.
	CodecZstd Codec = 1
	// CodecS2 is S2 block format (klauspost/compress/s2): fast enough for the
	// append path.
	CodecS2 Codec = 2
	// CodecLZ4 is an LZ4 block (pierrec/lz4/v4).
	CodecLZ4 Codec = 3
)

var codecNames = [...]string{CodecNone: "none", CodecZstd: "zstd", CodecS2: "s2", CodecLZ4: "lz4"}

func (c Codec) valid() bool { return int(c) < len(codecNames) }

// String returns the codec's name ("none", "zstd", "s2", "lz4").
func (c Codec) String() string {
	if c.valid() {
		return codecNames[c]
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

// ParseCodec parses "none", "zstd", "s2" or "lz4".
func ParseCodec(s string) (Codec, error) {
	for i, n := range codecNames {
		if n == s {
			return Codec(i), nil
		}
	}
	return 0, fmt.Errorf("segment: unknown codec %q (want none, zstd, s2 or lz4)", s)
}

var (
	// zstd at SpeedFastest: on JSON-like text in 256 KiB frames it stores
	// 0.31 of the input against 0.30 for SpeedDefault, at 2 to 3 times the
	// speed (BenchmarkZstdLevels), and the rewrite has to keep up with
	// ingest on a shared core.
	zstdEncPool = sync.Pool{New: func() any {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest))
		if err != nil {
			panic(err) // only on invalid options, which are constant here
		}
		return e
	}}
	zstdDecPool = sync.Pool{New: func() any {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(hardMaxFrameBytes))
		if err != nil {
			panic(err)
		}
		return d
	}}
	lz4CompPool = sync.Pool{New: func() any { return new(lz4.Compressor) }}
)

// compress appends src compressed with c to dst and returns it. ok is false
// when the result would not be smaller than src (the caller stores src raw).
func compress(c Codec, dst, src []byte) (out []byte, ok bool) {
	switch c {
	case CodecZstd:
		e := zstdEncPool.Get().(*zstd.Encoder)
		out = e.EncodeAll(src, dst)
		zstdEncPool.Put(e)
	case CodecS2:
		n := s2.MaxEncodedLen(len(src))
		if n < 0 {
			return dst, false
		}
		dst = grow(dst, n)
		enc := s2.Encode(dst[len(dst):len(dst)+n], src)
		out = dst[:len(dst)+len(enc)]
	case CodecLZ4:
		n := lz4.CompressBlockBound(len(src))
		dst = grow(dst, n)
		comp := lz4CompPool.Get().(*lz4.Compressor)
		w, err := comp.CompressBlock(src, dst[len(dst):len(dst)+n])
		lz4CompPool.Put(comp)
		if err != nil || w == 0 {
			return dst, false
		}
		out = dst[:len(dst)+w]
	default:
		return dst, false
	}
	if len(out)-len(dst) >= len(src) {
		return dst, false
	}
	return out, true
}

// decompress decodes src (codec c) into a slice of exactly origLen bytes:
// src itself for CodecNone, a new slice otherwise.
func decompress(c Codec, src []byte, origLen int) ([]byte, error) {
	if origLen < 0 || origLen > hardMaxFrameBytes {
		return nil, fmt.Errorf("original length %d out of range", origLen)
	}
	switch c {
	case CodecNone:
		if len(src) != origLen {
			return nil, fmt.Errorf("stored length %d != original length %d", len(src), origLen)
		}
		return src, nil
	case CodecZstd:
		d := zstdDecPool.Get().(*zstd.Decoder)
		out, err := d.DecodeAll(src, make([]byte, 0, origLen))
		zstdDecPool.Put(d)
		if err != nil {
			return nil, err
		}
		if len(out) != origLen {
			return nil, fmt.Errorf("zstd: decoded %d bytes, want %d", len(out), origLen)
		}
		return out, nil
	case CodecS2:
		n, err := s2.DecodedLen(src)
		if err != nil {
			return nil, err
		}
		if n != origLen {
			return nil, fmt.Errorf("s2: decoded length %d, want %d", n, origLen)
		}
		return s2.Decode(make([]byte, origLen), src)
	case CodecLZ4:
		out := make([]byte, origLen)
		n, err := lz4.UncompressBlock(src, out)
		if err != nil {
			return nil, err
		}
		if n != origLen {
			return nil, fmt.Errorf("lz4: decoded %d bytes, want %d", n, origLen)
		}
		return out, nil
	}
	return nil, errors.New("unknown codec")
}

// grow makes room for n more bytes after len(b).
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}
