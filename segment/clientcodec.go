package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// MaxDecompressedRecords is the bound on a batch's decompressed records
// section for readers with no tighter one: ListOffsets inside this package,
// the engine's compaction and record decoding. It is the frame bound
// (256 MiB): a batch whose records expand further is treated as undecodable.
// The produce path uses the topic's max.message.bytes instead.
const MaxDecompressedRecords = 256 << 20

// clientZstdMaxWindow bounds the window of a client's zstd frame: the
// stream decoder allocates the window up front, so a small frame declaring
// a huge one would allocate that much. 8 MiB is zstd's window up to level
// 19 (Kafka's default level is 3, 2 MiB); a larger one is ErrInvalidBatch.
const clientZstdMaxWindow = 8 << 20

// clientZstdPool holds stream decoders for clients' zstd records, apart
// from the frame codec's (whose own frames may have larger windows).
var clientZstdPool = sync.Pool{New: func() any {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxWindow(clientZstdMaxWindow), zstd.WithDecoderMaxMemory(hardMaxFrameBytes))
	if err != nil {
		panic(err) // only on invalid options, which are constant here
	}
	return d
}}

// xerialMagic starts snappy data framed the way the Java client frames it
// (then a version and a compatible version, 4 bytes each, then blocks of a
// big-endian length and a raw snappy block).
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// xerialHeaderSize is the magic, the version and the compatible version.
const xerialHeaderSize = 16

// DecompressRecords returns the records section src of a batch that a
// client compressed with Kafka codec (BatchHeader.Compression: gzip, snappy
// as a raw block or xerial-framed, lz4 frame, zstd), decompressed; for
// CompressionNone it returns src itself. Nothing is kept from src.
//
// The output never exceeds limit bytes: records that decompress past it
// return an error wrapping ErrRecordsTooLarge, after allocating about twice
// limit at most (the decoder stops there; a compression bomb is never
// expanded whole; a zstd frame's window is bounded at 8 MiB). Every caller passes a bound: the produce path the
// topic's max.message.bytes, readers MaxDecompressedRecords. Input a codec
// cannot decode returns an error wrapping ErrInvalidBatch.
func DecompressRecords(codec int, src []byte, limit int) ([]byte, error) {
	limit = max(limit, 0)
	var out []byte
	var err error
	switch codec {
	case CompressionNone:
		if len(src) > limit {
			return nil, fmt.Errorf("%w: %d bytes of records, limit %d", ErrRecordsTooLarge, len(src), limit)
		}
		return src, nil
	case CompressionGzip:
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(src)); err == nil {
			out, err = readLimited(zr, len(src), limit)
		}
	case CompressionSnappy:
		out, err = decodeSnappy(src, limit)
	case CompressionLZ4:
		out, err = readLimited(lz4.NewReader(bytes.NewReader(src)), len(src), limit)
	case CompressionZstd:
		d := clientZstdPool.Get().(*zstd.Decoder)
		if err = d.Reset(bytes.NewReader(src)); err == nil {
			out, err = readLimited(d, len(src), limit)
		}
		d.Reset(nil) // drop src
		clientZstdPool.Put(d)
	default:
		return nil, fmt.Errorf("%w: unknown compression codec %d", ErrInvalidBatch, codec)
	}
	if err != nil {
		if !errors.Is(err, ErrRecordsTooLarge) {
			err = fmt.Errorf("%w: compression codec %d: %w", ErrInvalidBatch, codec, err)
		}
		return nil, err
	}
	return out, nil
}

// tooLarge is the error for records that decompress past limit.
func tooLarge(limit int) error {
	return fmt.Errorf("%w: more than %d bytes", ErrRecordsTooLarge, limit)
}

// readLimited reads r to its end into a buffer that grows by doubling, from
// about four times the compressed size, up to limit+1 bytes; one byte past
// limit is ErrRecordsTooLarge. So the allocations for a bomb stay below about
// twice limit, whatever it expands to.
func readLimited(r io.Reader, srcLen, limit int) ([]byte, error) {
	buf := make([]byte, 0, min(limit+1, max(512, 4*srcLen)))
	for {
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), min(2*cap(buf), limit+1))
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			return nil, tooLarge(limit)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// decodeSnappy decodes a raw snappy block, or xerial-framed blocks, checking
// every block's announced size against what is left of limit before
// allocating it.
func decodeSnappy(src []byte, limit int) ([]byte, error) {
	if !bytes.HasPrefix(src, xerialMagic) {
		return snappyBlock(nil, src, limit)
	}
	if len(src) < xerialHeaderSize {
		return nil, fmt.Errorf("xerial header of %d bytes", len(src))
	}
	var out []byte
	for rem := src[xerialHeaderSize:]; len(rem) > 0; {
		if len(rem) < 4 {
			return nil, fmt.Errorf("xerial chunk header of %d bytes", len(rem))
		}
		n := int(binary.BigEndian.Uint32(rem))
		if n > len(rem)-4 {
			return nil, fmt.Errorf("xerial chunk of %d bytes, %d left", n, len(rem)-4)
		}
		var err error
		if out, err = snappyBlock(out, rem[4:4+n], limit); err != nil {
			return nil, err
		}
		rem = rem[4+n:]
	}
	return out, nil
}

// snappyBlock appends the decoding of one raw snappy block to dst, refusing
// one that would take dst past limit.
func snappyBlock(dst, src []byte, limit int) ([]byte, error) {
	n, err := s2.DecodedLen(src)
	if err != nil {
		return nil, err
	}
	if n > limit-len(dst) {
		return nil, tooLarge(limit)
	}
	dst = slices.Grow(dst, n)
	if _, err := s2.Decode(dst[len(dst):len(dst)+n], src); err != nil {
		return nil, err
	}
	return dst[:len(dst)+n], nil
}
