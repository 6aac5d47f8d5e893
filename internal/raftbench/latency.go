package raftbench

import (
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds, as in package bench: 1 µs to one hour, 3 significant
// digits. A larger value is recorded as one hour and counted in Clamped.
const (
	histMinMicros = 1
	histMaxMicros = int64(time.Hour / time.Microsecond)
	histSigFigs   = 3
)

// Latency summarises a latency distribution in milliseconds. Percentiles
// are the HDR histogram's highest equivalent values, so they never
// understate; Min and Max are exact.
type Latency struct {
	Count int64   `json:"count"`
	Min   float64 `json:"min_ms"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
	// Clamped counts values above one hour, recorded as one hour.
	Clamped int64 `json:"clamped,omitempty"`
}

// recorder is an HDR histogram of the whole measured phase plus one of the
// current progress interval; safe for concurrent use. A proposal costs far
// more than its mutex.
type recorder struct {
	mu              sync.Mutex
	total, interval *hdrhistogram.Histogram
	min, max        time.Duration
	clamped         int64
}

func newRecorder() *recorder {
	return &recorder{
		total:    hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs),
		interval: hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs),
		min:      -1,
	}
}

// record adds one latency; a negative one (a clock step) counts as zero.
func (r *recorder) record(d time.Duration) {
	d = max(d, 0)
	us := int64(d / time.Microsecond)
	clamped := us > histMaxMicros
	us = min(max(us, histMinMicros), histMaxMicros)
	r.mu.Lock()
	defer r.mu.Unlock()
	// us is within the histograms' range: RecordValue cannot fail.
	_ = r.total.RecordValue(us)
	_ = r.interval.RecordValue(us)
	if clamped {
		r.clamped++
	}
	if r.min < 0 || d < r.min {
		r.min = d
	}
	r.max = max(r.max, d)
}

// summary returns the whole measured phase's distribution.
func (r *recorder) summary() Latency {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := summarize(r.total)
	if l.Count == 0 {
		return l
	}
	l.Clamped = r.clamped
	l.Min, l.Max = ms(r.min), ms(r.max)
	// Bucket values may lie up to 0.1% beyond the exact extremes; keep
	// min <= mean, p50 <= ... <= p99.9 <= max.
	for _, p := range []*float64{&l.Mean, &l.P50, &l.P90, &l.P99, &l.P999} {
		*p = min(max(*p, l.Min), l.Max)
	}
	return l
}

// intervalP99 returns the p99 in ms since the previous call (0 without
// samples) and starts a new interval.
func (r *recorder) intervalP99() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := 0.0
	if r.interval.TotalCount() > 0 {
		p = float64(r.interval.ValueAtQuantile(99)) / 1000
	}
	r.interval.Reset()
	return p
}

func summarize(h *hdrhistogram.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	q := func(p float64) float64 { return float64(h.ValueAtQuantile(p)) / 1000 }
	return Latency{
		Count: h.TotalCount(),
		Mean:  h.Mean() / 1000,
		P50:   q(50),
		P90:   q(90),
		P99:   q(99),
		P999:  q(99.9),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
