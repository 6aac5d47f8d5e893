package bench

import (
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"time"
)

// payloadPoolMin is the smallest pool record values are cut from. Values are
// slices of one shared, read-only pool at random offsets, so producing makes
// no per-record copy of the value and consecutive values differ.
const payloadPoolMin = 4 << 20

// words feed "text" payloads: log-like text that compresses roughly as real
// logs do (zstd about 3-4x), unlike random bytes, which do not compress.
var words = []string{
	"the", "broker", "partition", "leader", "replica", "offset", "commit", "fetch",
	"produce", "request", "response", "topic", "consumer", "group", "session",
	"timeout", "error", "retry", "batch", "record", "segment", "index", "snapshot",
	"raft", "term", "vote", "append", "entries", "applied", "latency", "bytes",
	"user", "order", "payment", "status", "ok", "failed", "started", "stopped",
	"GET", "POST", "/api/v1/orders", "200", "404", "500", "INFO", "WARN", "DEBUG",
}

// payloads hands out record values of one size.
type payloads struct {
	pool []byte
	size int
}

// newPayloads builds the value pool for mode "random" or "text".
func newPayloads(mode string, size int, seed uint64) *payloads {
	n := max(payloadPoolMin, 4*size) + size
	pool := make([]byte, 0, n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	switch mode {
	case "text":
		for len(pool) < n {
			if r.IntN(12) == 0 {
				pool = strconv.AppendInt(pool, 1_700_000_000+r.Int64N(1e7), 10)
			} else {
				pool = append(pool, words[r.IntN(len(words))]...)
			}
			if r.IntN(10) == 0 {
				pool = append(pool, '\n')
			} else {
				pool = append(pool, ' ')
			}
		}
		pool = pool[:n]
	default:
		pool = pool[:n]
		for i := 0; i+8 <= n; i += 8 {
			binary.LittleEndian.PutUint64(pool[i:], r.Uint64())
		}
	}
	return &payloads{pool: pool, size: size}
}

// next returns a value of the configured size. The caller must not modify it.
func (p *payloads) next(r *rand.Rand) []byte {
	if p.size == 0 {
		return []byte{}
	}
	off := r.IntN(len(p.pool) - p.size + 1)
	return p.pool[off : off+p.size : off+p.size]
}

// keyLen is the length of "random" and "sequential" keys.
const keyLen = 16

const hexDigits = "0123456789abcdef"

// makeKey returns a record key for mode: nil for "none", 16 random hex
// characters for "random", seq as 16 zero-padded digits for "sequential".
func makeKey(mode string, seq uint64, r *rand.Rand) []byte {
	switch mode {
	case "random":
		k := make([]byte, keyLen)
		v := r.Uint64()
		for i := range k {
			k[i] = hexDigits[v&0xf]
			v >>= 4
		}
		return k
	case "sequential":
		k := make([]byte, keyLen)
		for i := keyLen - 1; i >= 0; i-- {
			k[i] = byte('0' + seq%10)
			seq /= 10
		}
		return k
	}
	return nil
}

// TimestampHeader is the record header in which Produce stores each record's
// send time (8 bytes, big-endian Unix nanoseconds), so Consume can measure
// end-to-end latency with sub-millisecond resolution.
const TimestampHeader = "chronik-bench-ts"

func encodeTimestamp(t time.Time) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(t.UnixNano()))
	return b
}

func decodeTimestamp(b []byte) (time.Time, bool) {
	if len(b) != 8 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b))), true
}
