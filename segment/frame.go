package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Frame layout (little-endian), frameHeaderSize bytes followed by the stored
// payload:
//
//	0  magic      u32  "CHKF"
//	4  version    u8   1
//	5  codec      u8   Codec of the stored payload
//	6  flags      u16  flagPrecompressed
//	8  firstIndex u64  first Raft index applied in this frame
//	16 lastIndex  u64  last Raft index applied in this frame
//	24 baseOffset i64  first offset (= log end offset before the frame)
//	32 lastOffset i64  last offset; baseOffset-1 for a frame with no batches
//	40 maxTs      i64  largest batch max timestamp, -1 if none
//	48 maxTsOff   i64  base offset of the first batch holding maxTs, -1 if none
//	56 appendTime i64  wall clock (Unix ms) of the append, for segment.ms
//	64 records    u32  sum of the batches' record counts
//	68 storedLen  u32  payload bytes in the file
//	72 origLen    u32  payload bytes once decompressed
//	76 crc        u32  CRC-32C of bytes [0,76) and of the stored payload
const (
	frameMagic      = 0x464b4843 // "CHKF" little-endian
	frameVersion    = 1
	frameHeaderSize = 80
	frameCRCPos     = 76

	// flagPrecompressed: the payload is stored raw because the client had
	// compressed its batches; the background rewrite leaves it alone.
	flagPrecompressed = 1 << 0
	knownFlags        = flagPrecompressed
)

// frameHeader is a decoded frame header.
type frameHeader struct {
	Codec      Codec
	Flags      uint16
	FirstIndex uint64
	LastIndex  uint64
	BaseOffset int64
	LastOffset int64
	MaxTs      int64
	MaxTsOff   int64
	AppendTime int64
	Records    uint32
	StoredLen  uint32
	OrigLen    uint32
	CRC        uint32
}

// size is the frame's size in the file.
func (h *frameHeader) size() int64 { return frameHeaderSize + int64(h.StoredLen) }

// empty reports a frame that carries no batches (only a Raft index range).
func (h *frameHeader) empty() bool { return h.LastOffset < h.BaseOffset }

// putFrameHeader encodes h into b[:frameHeaderSize] except the CRC.
func putFrameHeader(b []byte, h *frameHeader) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], frameMagic)
	b[4] = frameVersion
	b[5] = byte(h.Codec)
	le.PutUint16(b[6:], h.Flags)
	le.PutUint64(b[8:], h.FirstIndex)
	le.PutUint64(b[16:], h.LastIndex)
	le.PutUint64(b[24:], uint64(h.BaseOffset))
	le.PutUint64(b[32:], uint64(h.LastOffset))
	le.PutUint64(b[40:], uint64(h.MaxTs))
	le.PutUint64(b[48:], uint64(h.MaxTsOff))
	le.PutUint64(b[56:], uint64(h.AppendTime))
	le.PutUint32(b[64:], h.Records)
	le.PutUint32(b[68:], h.StoredLen)
	le.PutUint32(b[72:], h.OrigLen)
}

// sealFrame computes the CRC of a frame whose header and payload are encoded
// in frame (header then payload) and stores it.
func sealFrame(frame []byte) uint32 {
	c := crc32.Update(0, castagnoli, frame[:frameCRCPos])
	c = crc32.Update(c, castagnoli, frame[frameHeaderSize:])
	binary.LittleEndian.PutUint32(frame[frameCRCPos:], c)
	return c
}

// errShortHeader: fewer than frameHeaderSize bytes (a torn tail).
var errShortHeader = errors.New("short frame header")

// parseFrameHeader decodes and sanity-checks a header (not the CRC, which
// needs the payload). A header that fails these checks is corrupt or torn.
func parseFrameHeader(b []byte) (frameHeader, error) {
	var h frameHeader
	if len(b) < frameHeaderSize {
		return h, errShortHeader
	}
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != frameMagic {
		return h, fmt.Errorf("bad frame magic %08x", le.Uint32(b[0:]))
	}
	if b[4] != frameVersion {
		return h, fmt.Errorf("unknown frame version %d", b[4])
	}
	h.Codec = Codec(b[5])
	h.Flags = le.Uint16(b[6:])
	h.FirstIndex = le.Uint64(b[8:])
	h.LastIndex = le.Uint64(b[16:])
	h.BaseOffset = int64(le.Uint64(b[24:]))
	h.LastOffset = int64(le.Uint64(b[32:]))
	h.MaxTs = int64(le.Uint64(b[40:]))
	h.MaxTsOff = int64(le.Uint64(b[48:]))
	h.AppendTime = int64(le.Uint64(b[56:]))
	h.Records = le.Uint32(b[64:])
	h.StoredLen = le.Uint32(b[68:])
	h.OrigLen = le.Uint32(b[72:])
	h.CRC = le.Uint32(b[76:])
	switch {
	case !h.Codec.valid():
		return h, fmt.Errorf("unknown codec %d", h.Codec)
	case h.Flags&^knownFlags != 0:
		return h, fmt.Errorf("unknown flags %04x", h.Flags)
	case h.FirstIndex > h.LastIndex:
		return h, fmt.Errorf("raft index range [%d,%d] reversed", h.FirstIndex, h.LastIndex)
	case h.BaseOffset < 0 || h.LastOffset < h.BaseOffset-1:
		return h, fmt.Errorf("offset range [%d,%d] invalid", h.BaseOffset, h.LastOffset)
	case h.StoredLen > hardMaxFrameBytes || h.OrigLen > hardMaxFrameBytes:
		return h, fmt.Errorf("lengths %d/%d over the limit", h.StoredLen, h.OrigLen)
	case h.Codec == CodecNone && h.StoredLen != h.OrigLen:
		return h, fmt.Errorf("raw frame with stored %d != original %d", h.StoredLen, h.OrigLen)
	case h.empty() && (h.OrigLen != 0 || h.Codec != CodecNone):
		return h, fmt.Errorf("frame with no offsets carries %d bytes of %s", h.OrigLen, h.Codec)
	case !h.empty() && h.OrigLen < BatchHeaderSize:
		return h, fmt.Errorf("frame with offsets carries only %d bytes", h.OrigLen)
	}
	return h, nil
}

// checkFrameCRC verifies the CRC of header bytes hb and stored payload p.
func checkFrameCRC(h *frameHeader, hb, p []byte) bool {
	c := crc32.Update(0, castagnoli, hb[:frameCRCPos])
	c = crc32.Update(c, castagnoli, p)
	return c == h.CRC
}

// frameReadError says why readFrame stopped: torn means the bytes simply end
// (a crash tail, only acceptable at the end of the active segment).
type frameReadError struct {
	torn bool // the bytes end inside the frame
	io   bool // the file system failed; the data may be fine
	err  error
}

func (e *frameReadError) Error() string { return e.err.Error() }
func (e *frameReadError) Unwrap() error { return e.err }

// readFrame reads and verifies the frame at pos of r, whose readable size is
// limit. It returns the header and the stored payload (still compressed).
func readFrame(r io.ReaderAt, pos, limit int64) (frameHeader, []byte, error) {
	var hb [frameHeaderSize]byte
	if limit-pos < frameHeaderSize {
		return frameHeader{}, nil, &frameReadError{torn: true, err: errShortHeader}
	}
	if _, err := r.ReadAt(hb[:], pos); err != nil {
		return frameHeader{}, nil, &frameReadError{io: true, err: err}
	}
	h, err := parseFrameHeader(hb[:])
	if err != nil {
		return h, nil, &frameReadError{err: err}
	}
	if limit-pos-frameHeaderSize < int64(h.StoredLen) {
		return h, nil, &frameReadError{torn: true, err: fmt.Errorf("payload of %d bytes cut at %d", h.StoredLen, limit-pos-frameHeaderSize)}
	}
	p := make([]byte, h.StoredLen)
	if _, err := r.ReadAt(p, pos+frameHeaderSize); err != nil && !(err == io.EOF && len(p) == 0) {
		return h, nil, &frameReadError{io: true, err: err}
	}
	if !checkFrameCRC(&h, hb[:], p) {
		return h, nil, &frameReadError{err: fmt.Errorf("frame crc mismatch (offsets %d-%d)", h.BaseOffset, h.LastOffset)}
	}
	return h, p, nil
}

// decodeFramePayload decompresses a verified frame's payload and checks that
// its batches cover exactly [BaseOffset, LastOffset].
func decodeFramePayload(h *frameHeader, stored []byte) ([]byte, error) {
	data, err := decompress(h.Codec, stored, int(h.OrigLen))
	if err != nil {
		return nil, fmt.Errorf("decompress %s frame: %w", h.Codec, err)
	}
	if err := checkFrameBatches(h, data); err != nil {
		return nil, err
	}
	return data, nil
}

// checkFrameBatches checks that data's batches are contiguous from the
// frame's base offset to its last offset.
func checkFrameBatches(h *frameHeader, data []byte) error {
	next := h.BaseOffset
	err := EachBatch(data, func(bh BatchHeader, _ []byte) error {
		if bh.BaseOffset != next {
			return fmt.Errorf("batch base offset %d, want %d", bh.BaseOffset, next)
		}
		next = bh.LastOffset() + 1
		return nil
	})
	if err != nil {
		return err
	}
	if next-1 != h.LastOffset {
		return fmt.Errorf("batches end at offset %d, header says %d", next-1, h.LastOffset)
	}
	return nil
}
