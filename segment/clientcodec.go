package segment

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/s2"
	"github.com/pierrec/lz4/v4"
)

// Kafka's batch compression codecs (attribute bits 0-2). The produce path
// never decompresses a client's batch; only OffsetForTimestamp and
// MaxTimestamp do, to name the exact record inside a compressed batch.
const (
	kafkaGzip   = 1
	kafkaSnappy = 2
	kafkaLZ4    = 3
	kafkaZstd   = 4
)

// xerialMagic starts snappy data framed the way the Java client frames it
// (then a version and a compatible version, 4 bytes each, then blocks of a
// big-endian length and a raw snappy block).
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// decompressRecords returns the decompressed records section of a batch
// compressed with Kafka codec c, bounded by hardMaxFrameBytes.
func decompressRecords(c int, src []byte) ([]byte, error) {
	limited := func(r io.Reader) ([]byte, error) {
		out, err := io.ReadAll(io.LimitReader(r, hardMaxFrameBytes+1))
		if err == nil && len(out) > hardMaxFrameBytes {
			err = errors.New("records decompress past the limit")
		}
		return out, err
	}
	switch c {
	case kafkaGzip:
		zr, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, err
		}
		return limited(zr)
	case kafkaSnappy:
		if !bytes.HasPrefix(src, xerialMagic) {
			return snappyBlock(nil, src)
		}
		if len(src) < 16 {
			return nil, errors.New("short xerial header")
		}
		var out []byte
		for rem := src[16:]; len(rem) > 0; {
			if len(rem) < 4 {
				return nil, errors.New("short xerial chunk header")
			}
			n := int(binary.BigEndian.Uint32(rem))
			if n < 0 || n > len(rem)-4 {
				return nil, fmt.Errorf("xerial chunk of %d bytes, %d left", n, len(rem)-4)
			}
			var err error
			if out, err = snappyBlock(out, rem[4:4+n]); err != nil {
				return nil, err
			}
			rem = rem[4+n:]
		}
		return out, nil
	case kafkaLZ4:
		return limited(lz4.NewReader(bytes.NewReader(src)))
	case kafkaZstd:
		d := zstdDecPool.Get().(interface {
			DecodeAll(in, dst []byte) ([]byte, error)
		})
		defer zstdDecPool.Put(d)
		return d.DecodeAll(src, nil)
	}
	return nil, fmt.Errorf("unknown batch compression %d", c)
}

// snappyBlock appends the decoding of one raw snappy block to dst.
func snappyBlock(dst, src []byte) ([]byte, error) {
	n, err := s2.DecodedLen(src)
	if err != nil {
		return nil, err
	}
	if n > hardMaxFrameBytes-len(dst) {
		return nil, errors.New("records decompress past the limit")
	}
	out, err := s2.Decode(make([]byte, n), src)
	if err != nil {
		return nil, err
	}
	return append(dst, out...), nil
}
