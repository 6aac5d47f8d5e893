package bench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits maps the suffixes ParseSize accepts to their multipliers: binary
// (KiB, MiB, GiB) and decimal (KB, MB, GB), case-insensitive, with "B" or no
// suffix meaning bytes.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	// Longest suffixes first, so "kib" is not read as "b".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30},
	{"b", 1},
}

// ParseSize parses a byte count such as "1024", "1KiB", "1MiB", "1MB" or
// "512k". Binary suffixes (KiB, MiB, GiB, and the bare K, M, G) are powers of
// 1024; KB, MB and GB are powers of 1000. The value must be a non-negative
// integer number of units.
func ParseSize(s string) (int64, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("size %q: empty", s)
	}
	lower := strings.ToLower(in)
	mult := int64(1)
	num := lower
	for _, u := range sizeUnits {
		if strings.HasSuffix(lower, u.suffix) {
			mult = u.mult
			num = strings.TrimSpace(strings.TrimSuffix(lower, u.suffix))
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: want an integer with an optional unit (B, KiB, MiB, GiB, KB, MB, GB)", s)
	}
	if n < 0 {
		return 0, fmt.Errorf("size %q: must not be negative", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return n * mult, nil
}

// FormatSize renders n bytes in the largest binary unit that divides it
// exactly ("1MiB", "1536B" stays "1536B" unless it is a whole KiB: "1.5KiB" is
// never produced), so settings read back the way a user would type them.
func FormatSize(n int64) string {
	switch {
	case n != 0 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n != 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n != 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}
