package bench

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestRecorderPercentiles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []time.Duration
		want   Latency // P50..Max in ms, compared within 0.1% (HDR 3 digits)
	}{
		{
			name:   "1..1000ms uniform",
			values: seq(1000, time.Millisecond),
			want:   Latency{Count: 1000, Min: 1, P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000},
		},
		{
			name:   "single value",
			values: []time.Duration{1500 * time.Microsecond},
			want:   Latency{Count: 1, Min: 1.5, P50: 1.5, P90: 1.5, P99: 1.5, P999: 1.5, Max: 1.5},
		},
		{
			name:   "outlier",
			values: append(repeat(999, 2*time.Millisecond), 5*time.Second),
			want:   Latency{Count: 1000, Min: 2, P50: 2, P90: 2, P99: 2, P999: 2, Max: 5000},
		},
		{
			name:   "sub-microsecond counts as 1us",
			values: []time.Duration{100 * time.Nanosecond, -time.Millisecond},
			want:   Latency{Count: 2, Min: 0, P50: 0.001, P90: 0.001, P99: 0.001, P999: 0.001, Max: 0.0001},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder()
			for _, v := range tc.values {
				r.Record(v)
			}
			got := r.Summary()
			if got.Count != tc.want.Count {
				t.Errorf("count %d, want %d", got.Count, tc.want.Count)
			}
			checkOrdered(t, got)
			near := func(name string, g, w float64) {
				if math.Abs(g-w) > w*0.001+0.001 {
					t.Errorf("%s = %v ms, want %v", name, g, w)
				}
			}
			near("min", got.Min, tc.want.Min)
			near("max", got.Max, tc.want.Max)
			if tc.want.Max >= 0.001 {
				near("p50", got.P50, tc.want.P50)
				near("p90", got.P90, tc.want.P90)
				near("p99", got.P99, tc.want.P99)
				near("p99.9", got.P999, tc.want.P999)
			}
		})
	}
}

func TestRecorderClampAndEmpty(t *testing.T) {
	r := newRecorder()
	if s := r.Summary(); s != (Latency{}) {
		t.Errorf("empty summary %+v, want zero", s)
	}
	r.Record(2 * time.Hour)
	s := r.Summary()
	if s.Clamped != 1 || s.Max != float64(2*time.Hour/time.Millisecond) {
		t.Errorf("clamped %d max %v: want 1 value clamped, exact max kept", s.Clamped, s.Max)
	}
	checkOrdered(t, s)
}

func TestRecorderInterval(t *testing.T) {
	r := newRecorder()
	r.Record(10 * time.Millisecond)
	if l := r.snapshotInterval(); l.Count != 1 || l.P99 < 9.99 || l.P99 > 10.01 {
		t.Errorf("first interval %+v", l)
	}
	r.Record(time.Millisecond)
	if l := r.snapshotInterval(); l.Count != 1 || l.P99 > 1.01 {
		t.Errorf("second interval %+v: must not include the first interval", l)
	}
	if l := r.snapshotInterval(); l.Count != 0 {
		t.Errorf("empty interval %+v", l)
	}
	if s := r.Summary(); s.Count != 2 {
		t.Errorf("total count %d, want 2", s.Count)
	}
}

func TestRecorderConcurrent(t *testing.T) {
	r := newRecorder()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				r.Record(time.Duration(g*1000+i+1) * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	s := r.Summary()
	if s.Count != 8000 || s.Min != 0.001 || s.Max != 8 {
		t.Errorf("summary %+v: want 8000 values from 1us to 8ms", s)
	}
}

func BenchmarkRecorder(b *testing.B) {
	r := newRecorder()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := time.Duration(0)
		for pb.Next() {
			d += 7 * time.Microsecond
			r.Record(d % time.Second)
		}
	})
}

func seq(n int, unit time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i+1) * unit
	}
	return out
}

func repeat(n int, d time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}
