package kafka

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fuzzFrameLimit is the frame limit FuzzRequest runs with.
const fuzzFrameLimit = 1 << 16

// FuzzRequest feeds arbitrary bytes through the connection's decode path:
// length prefix, header and body. It must never panic, never accept a frame
// beyond the limit, and never allocate more than the frame limit for a
// frame. Seeds live in testdata/fuzz/FuzzRequest; f.Add adds valid requests
// of every served key.
func FuzzRequest(f *testing.F) {
	for _, h := range registeredKeys() {
		for _, v := range []int16{h.min, h.max} {
			req := kmsg.RequestForKey(h.key)
			req.SetVersion(v)
			if d, ok := req.(interface{ Default() }); ok {
				d.Default()
				req.SetVersion(v)
			}
			frame := encodeRequest(1, "fuzz", req)
			f.Add(frame)
			f.Add(append(append([]byte{}, frame...), 0xff, 0x00, 0x7f)) // valid then garbage
			f.Add(frame[:len(frame)/2])                                 // truncated
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		frame, err := readFrame(bytes.NewReader(in), fuzzFrameLimit)
		if err != nil {
			return
		}
		if len(frame) > fuzzFrameLimit {
			t.Fatalf("accepted a %d-byte frame over the %d limit", len(frame), fuzzFrameLimit)
		}
		if want := int(binary.BigEndian.Uint32(in)); len(frame) != want {
			t.Fatalf("frame of %d bytes, prefix says %d", len(frame), want)
		}
		r, err := decodeRequest(frame)
		if err != nil || r.kreq == nil {
			return
		}
		// A decoded request must re-encode without panicking.
		_ = r.kreq.AppendTo(nil)
	})
}

// The decoder's allocations stay bounded by the frame: a request claiming a
// huge array must not make kmsg allocate for it.
func TestDecodeHugeArrayClaim(t *testing.T) {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 1
	frame := encodeRequest(1, "x", req)[4:]
	// Replace the topics array length (last 4 bytes) with 2^31-1.
	binary.BigEndian.PutUint32(frame[len(frame)-4:], 1<<31-1)
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := decodeRequest(frame); err == nil {
			t.Fatal("decoded a request claiming 2^31-1 topics in 4 bytes")
		}
	})
	if allocs > 20 {
		t.Fatalf("%v allocations decoding a bogus array length", allocs)
	}
}

// A length prefix just under the frame limit followed by a few bytes and EOF
// allocates about one chunk, not the claimed size.
func TestReadFrameAllocatesAsBytesArrive(t *testing.T) {
	in := binary.BigEndian.AppendUint32(nil, 100<<20)
	in = append(in, make([]byte, 100)...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 10; i++ {
		if _, err := readFrame(bytes.NewReader(in), DefaultMaxFrameBytes); err == nil {
			t.Fatal("read a frame from a truncated stream")
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > 2*frameChunk {
		t.Fatalf("%d bytes allocated per truncated 100 MiB frame, want at most %d", per, 2*frameChunk)
	}
}

// Frames of every size around the chunk boundary read back byte for byte,
// and a complete large frame costs about its own size in allocations (one
// buffer of the frame's length; the chunks it is read through are reused).
func TestReadFrameBody(t *testing.T) {
	for _, n := range []int{8, frameChunk - 1, frameChunk, frameChunk + 1, 3*frameChunk + 5, 5 << 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			body := make([]byte, n)
			for i := range body {
				body[i] = byte(i*7 + i>>12)
			}
			in := binary.BigEndian.AppendUint32(nil, uint32(n))
			in = append(in, body...)
			got, err := readFrame(bytes.NewReader(in), DefaultMaxFrameBytes)
			if err != nil {
				t.Fatalf("read a %d-byte frame: %v", n, err)
			}
			if !bytes.Equal(got, body) {
				t.Fatalf("a %d-byte frame read back different bytes", n)
			}
			// No collection while measuring: one could empty the pool.
			defer debug.SetGCPercent(debug.SetGCPercent(-1))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			const runs = 5
			for range runs {
				if _, err := readFrame(bytes.NewReader(in), DefaultMaxFrameBytes); err != nil {
					t.Fatal(err)
				}
			}
			runtime.ReadMemStats(&after)
			if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > uint64(n)+frameChunk/2 {
				t.Fatalf("%d bytes allocated per %d-byte frame, want at most %d", per, n, n+frameChunk/2)
			}
		})
	}
}
