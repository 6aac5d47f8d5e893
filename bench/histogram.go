package bench

import (
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: latencies are recorded in microseconds from 1 µs to one
// hour with 3 significant digits (a relative error below 0.1%). A larger
// value is recorded as the upper bound and counted in Latency.Clamped.
const (
	histMinMicros = 1
	histMaxMicros = int64(time.Hour / time.Microsecond)
	histSigFigs   = 3
)

// Latency summarises a latency distribution in milliseconds.
type Latency struct {
	Count int64   `json:"count"`   // values recorded
	Min   float64 `json:"min_ms"`  // exact smallest value
	Mean  float64 `json:"mean_ms"` // from the histogram
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"` // exact largest value
	// Clamped counts values above one hour, recorded as one hour.
	Clamped int64 `json:"clamped,omitempty"`
}

// recorder is an HDR latency histogram safe for concurrent use. It keeps the
// whole run's distribution and a second one for the current progress
// interval, which snapshotInterval returns and resets.
type recorder struct {
	mu       sync.Mutex
	total    *hdrhistogram.Histogram
	interval *hdrhistogram.Histogram
	min, max time.Duration
	clamped  int64
}

func newRecorder() *recorder {
	return &recorder{
		total:    hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs),
		interval: hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs),
		min:      -1,
	}
}

// toMicros converts d to the histogram's unit, clamped to its range; it
// reports whether d was above the range.
func toMicros(d time.Duration) (int64, bool) {
	us := int64(d / time.Microsecond)
	switch {
	case us < histMinMicros:
		return histMinMicros, false
	case us > histMaxMicros:
		return histMaxMicros, true
	}
	return us, false
}

// Record adds one latency. Negative values (clock steps) count as zero.
func (r *recorder) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	us, clamped := toMicros(d)
	r.mu.Lock()
	// Errors are impossible: us is within the histograms' range.
	_ = r.total.RecordValue(us)
	_ = r.interval.RecordValue(us)
	if clamped {
		r.clamped++
	}
	if r.min < 0 || d < r.min {
		r.min = d
	}
	if d > r.max {
		r.max = d
	}
	r.mu.Unlock()
}

// Summary returns the whole run's distribution.
func (r *recorder) Summary() Latency {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := summarize(r.total)
	l.Clamped = r.clamped
	if l.Count > 0 {
		l.Min = ms(r.min)
		l.Max = ms(r.max)
		// Histogram buckets report their highest equivalent value, which may
		// lie up to 0.1% above the exact extreme; keep the order
		// min <= p50 <= ... <= max that the exact values imply.
		for _, p := range []*float64{&l.Mean, &l.P50, &l.P90, &l.P99, &l.P999} {
			*p = min(max(*p, l.Min), l.Max)
		}
	}
	return l
}

// snapshotInterval returns the distribution since the previous call and
// starts a new interval.
func (r *recorder) snapshotInterval() Latency {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := summarize(r.interval)
	r.interval.Reset()
	return l
}

// summarize reads percentiles from h. Percentiles are the histogram's
// highest-equivalent values, so they never understate a latency.
func summarize(h *hdrhistogram.Histogram) Latency {
	n := h.TotalCount()
	if n == 0 {
		return Latency{}
	}
	q := func(p float64) float64 { return usToMs(h.ValueAtQuantile(p)) }
	return Latency{
		Count: n,
		Min:   usToMs(h.Min()),
		Mean:  h.Mean() / 1000,
		P50:   q(50),
		P90:   q(90),
		P99:   q(99),
		P999:  q(99.9),
		Max:   usToMs(h.Max()),
	}
}

func usToMs(us int64) float64    { return float64(us) / 1000 }
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
