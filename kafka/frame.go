package kafka

// Framing and request-header decoding. A Kafka request is a 4-byte big-endian
// length followed by that many bytes: the request header (API key, version,
// correlation id, client id, and tagged fields from header v2, used by
// flexible versions) and the body, which kmsg decodes.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var (
	// errFrameTooLarge: a length prefix above Config.MaxFrameBytes or
	// Config.QueuedMaxRequestBytes.
	errFrameTooLarge = errors.New("kafka: request frame too large")
	// errBadFrame: a frame too short to hold a request header, or a
	// negative length.
	errBadFrame = errors.New("kafka: malformed request frame")
	// errUnknownKey: an API key kmsg does not know, so neither the request
	// nor any response can be encoded. The connection is closed, as Kafka
	// does.
	errUnknownKey = errors.New("kafka: unknown API key")
)

// frameChunk is how much readFrame allocates ahead of the bytes that have
// actually arrived, so a large length prefix followed by nothing costs at
// most this much memory.
const frameChunk = 1 << 20

// readFrame reads one length-prefixed frame (readFrameSize, then
// readFrameBody).
func readFrame(r io.Reader, max int32) ([]byte, error) {
	n, err := readFrameSize(r, max)
	if err != nil {
		return nil, err
	}
	return readFrameBody(r, n)
}

// readFrameSize reads a frame's length prefix and checks it against max, so
// nothing is allocated for a frame that will be refused.
func readFrameSize(r io.Reader, max int32) (int32, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return 0, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	switch {
	case n < 0:
		return 0, fmt.Errorf("%w: negative length %d", errBadFrame, n)
	case n > max:
		return 0, fmt.Errorf("%w: %d bytes, limit %d", errFrameTooLarge, n, max)
	case n < 8:
		// Key, version and correlation id alone take 8 bytes.
		return 0, fmt.Errorf("%w: %d bytes is shorter than a request header", errBadFrame, n)
	}
	return n, nil
}

// readFrameBody reads a frame's n bytes. A frame larger than frameChunk is
// read a chunk at a time into pooled chunks, so memory follows the bytes
// that actually arrive (a large length prefix followed by nothing costs at
// most frameChunk), and is then copied once into a buffer of exactly n
// bytes. Growing one buffer by doubling instead cleared and copied about
// twice the frame again, a few percent of a broker's CPU under produce load.
func readFrameBody(r io.Reader, n int32) ([]byte, error) {
	if n <= frameChunk {
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, unexpected(err)
		}
		return buf, nil
	}
	chunks := make([]*[]byte, 0, (int(n)+frameChunk-1)/frameChunk)
	defer func() {
		for _, c := range chunks {
			chunkPool.Put(c)
		}
	}()
	for left := int(n); left > 0; {
		c := chunkPool.Get().(*[]byte)
		chunks = append(chunks, c)
		want := min(left, frameChunk)
		if _, err := io.ReadFull(r, (*c)[:want]); err != nil {
			return nil, unexpected(err)
		}
		left -= want
	}
	buf := make([]byte, n)
	off := 0
	for _, c := range chunks {
		off += copy(buf[off:], *c)
	}
	return buf, nil
}

// chunkPool holds frameChunk-byte buffers for readFrameBody. They never
// leave it: every byte is copied out before a chunk is put back.
var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, frameChunk)
	return &b
}}

// unexpected turns EOF inside a frame into ErrUnexpectedEOF: the client went
// away mid-request.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// request is one decoded request.
type request struct {
	key      int16
	version  int16
	corr     int32
	clientID string
	// clientHost is the peer's address as Kafka shows it ("/127.0.0.1"),
	// reported for group members by DescribeGroups.
	clientHost string
	// listener is the name of the listener the request came in on.
	listener string
	// principal is the connection's principal when the request was read
	// ("User:<name>"; "" reads as AnonymousPrincipal), for authorization.
	principal string
	// conn is the connection the request came on; nil for a request not
	// read from a connection (tests).
	conn *conn
	// kreq is the decoded body; nil for an ApiVersions request whose version
	// is above ours (answered with the v0 fallback without decoding).
	kreq kmsg.Request
	// size is the frame length, for logs; it is also the number of bytes
	// the request holds of the server's request budget until answered.
	size int
}

// decodeRequest decodes a frame (without its length prefix): header, then
// body at the header's version. It never reads outside frame.
func decodeRequest(frame []byte) (*request, error) {
	if len(frame) < 8 {
		return nil, fmt.Errorf("%w: %d bytes is shorter than a request header", errBadFrame, len(frame))
	}
	rd := kbin.Reader{Src: frame}
	r := &request{
		key:     rd.Int16(),
		version: rd.Int16(),
		corr:    rd.Int32(),
		size:    len(frame),
	}
	kreq := kmsg.RequestForKey(r.key)
	if kreq == nil {
		return r, fmt.Errorf("%w %d (version %d)", errUnknownKey, r.key, r.version)
	}
	if r.version < 0 {
		return r, fmt.Errorf("kafka: %s: negative version %d", kmsg.NameForKey(r.key), r.version)
	}
	if cid := rd.NullableString(); cid != nil {
		r.clientID = *cid
	}
	if err := rd.Complete(); err != nil {
		return r, fmt.Errorf("kafka: %s v%d header: %w", kmsg.NameForKey(r.key), r.version, err)
	}
	if r.key == 18 && r.version > apiVersionsMax() {
		// KIP-511: an ApiVersions request newer than ours is answered at
		// v0 and its body (whose layout we cannot know) is ignored.
		return r, nil
	}
	kreq.SetVersion(r.version)
	if kreq.IsFlexible() {
		kmsg.SkipTags(&rd)
		if err := rd.Complete(); err != nil {
			return r, fmt.Errorf("kafka: %s v%d header tags: %w", kmsg.NameForKey(r.key), r.version, err)
		}
	}
	if r.version > kreq.MaxVersion() {
		// Beyond what kmsg can decode: the body layout is unknown.
		return r, fmt.Errorf("kafka: %s v%d is newer than this server knows", kmsg.NameForKey(r.key), r.version)
	}
	if err := kreq.ReadFrom(rd.Src); err != nil {
		return r, fmt.Errorf("kafka: decode %s v%d: %w", kmsg.NameForKey(r.key), r.version, err)
	}
	r.kreq = kreq
	return r, nil
}

// appendResponse appends a whole response frame: length, correlation id, the
// response header's tagged fields for flexible versions (never for
// ApiVersions, whose response header is always v0), and the body.
func appendResponse(dst []byte, corr int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	if resp.IsFlexible() && resp.Key() != 18 {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
