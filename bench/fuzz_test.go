package bench

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseSize checks that ParseSize never panics, never returns a negative
// size, and that what it accepts survives a FormatSize round trip.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"", "0", "1024", "1KiB", "1MiB", "1GB", "512k", "-1", "1.5MiB", "99999999999999999999", "9223372036854775807", "8589934591GiB", " 1 mib "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			if n != 0 {
				t.Fatalf("ParseSize(%q) = %d with error %v", s, n, err)
			}
			if !strings.Contains(err.Error(), "size") {
				t.Fatalf("error %q does not say what was wrong", err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d < 0", s, n)
		}
		back, err := ParseSize(FormatSize(n))
		if err != nil || back != n {
			t.Fatalf("ParseSize(FormatSize(%d)) = %d, %v", n, back, err)
		}
	})
}

// FuzzDecodeTimestamp checks that any header value is either rejected or
// decodes to the time that encodes back to the same bytes.
func FuzzDecodeTimestamp(f *testing.F) {
	f.Add([]byte{})
	f.Add(encodeTimestamp(time.Unix(1_700_000_000, 5)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte("chronik-bench-ts"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, ok := decodeTimestamp(b)
		if !ok {
			if len(b) == 8 {
				t.Fatalf("8-byte value %x rejected", b)
			}
			return
		}
		if got := encodeTimestamp(ts); string(got) != string(b) {
			t.Fatalf("decode(%x) = %v encodes to %x", b, ts, got)
		}
	})
}
