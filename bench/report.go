package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// WriteJSON writes r as one JSON object followed by a newline.
func WriteJSON(w io.Writer, r Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode %s result: %w", r.Kind, err)
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write %s result: %w", r.Kind, err)
	}
	return nil
}

// WriteText writes r as a short human-readable report: counts, throughput,
// latency percentiles, errors and the settings used.
func WriteText(w io.Writer, r Result) error {
	var b strings.Builder
	if r.Kind == "consume" {
		fmt.Fprintf(&b, "consume: %s records consumed, %s errors in %s",
			commas(r.Consumed), commas(r.Failed), roundDuration(r.Elapsed))
	} else {
		fmt.Fprintf(&b, "produce: %s records sent, %s acknowledged, %s failed in %s",
			commas(r.Sent), commas(r.Acked), commas(r.Failed), roundDuration(r.Elapsed))
		if r.WarmupRecords > 0 {
			fmt.Fprintf(&b, " (after a warm-up of %s records, excluded)", commas(r.WarmupRecords))
		}
	}
	if r.Interrupted {
		b.WriteString(" [interrupted]")
	}
	b.WriteByte('\n')
	fmt.Fprintf(&b, "throughput: %s records/s, %.2f MiB/s\n", commas(int64(r.RecordsPerSec+0.5)), r.MiBPerSec)
	l := r.Latency
	if l.Count > 0 {
		fmt.Fprintf(&b, "latency (%s, ms): p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (min %s, mean %s, n=%s)\n",
			r.LatencyKind, fmtMs(l.P50), fmtMs(l.P90), fmtMs(l.P99), fmtMs(l.P999), fmtMs(l.Max),
			fmtMs(l.Min), fmtMs(l.Mean), commas(l.Count))
		if l.Clamped > 0 {
			fmt.Fprintf(&b, "latency: %s values above 1h were recorded as 1h\n", commas(l.Clamped))
		}
	} else {
		fmt.Fprintf(&b, "latency (%s): no samples\n", r.LatencyKind)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "error: %s x %s\n", commas(e.Count), e.Error)
	}
	keys := make([]string, 0, len(r.Settings))
	for k := range r.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString("settings:")
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, r.Settings[k])
	}
	b.WriteByte('\n')
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write %s report: %w", r.Kind, err)
	}
	return nil
}

// fmtMs prints a millisecond value with three significant decimals for small
// values and fewer for large ones.
func fmtMs(v float64) string {
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 3, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 1000:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// commas formats n with thousands separators: 1234567 -> "1,234,567".
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func roundDuration(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}
