package bench

import (
	"sort"
	"time"
)

// Result is the outcome of a Produce or Consume run. Every count covers the
// measured phase only (never the warm-up), and failed records are always
// counted: Sent == Acked + Failed once a produce run has finished.
type Result struct {
	// Kind is "produce" or "consume".
	Kind string `json:"kind"`
	// Settings are the effective settings of the run, by flag name.
	Settings map[string]string `json:"settings"`
	// Started is when the measured phase began (after any warm-up).
	Started time.Time `json:"started"`
	// Elapsed runs from the start of the measured phase to the last
	// acknowledgement (produce) or the last record received (consume).
	Elapsed time.Duration `json:"-"`
	// ElapsedSeconds is Elapsed in seconds, for JSON.
	ElapsedSeconds float64 `json:"elapsed_s"`

	// Sent counts records handed to the client in the measured phase.
	Sent int64 `json:"sent,omitempty"`
	// Acked counts records the broker acknowledged.
	Acked int64 `json:"acked,omitempty"`
	// Failed counts records that failed after the client's retries
	// (produce), or fetch and group errors (consume).
	Failed int64 `json:"failed"`
	// Consumed counts records read by Consume.
	Consumed int64 `json:"consumed,omitempty"`
	// WarmupRecords counts records produced during the warm-up (excluded
	// from every other figure).
	WarmupRecords int64 `json:"warmup_records,omitempty"`
	// Bytes counts record value bytes acknowledged or consumed.
	Bytes int64 `json:"bytes"`

	// RecordsPerSec is Acked (or Consumed) divided by Elapsed.
	RecordsPerSec float64 `json:"records_per_sec"`
	// MiBPerSec is Bytes/2^20 divided by Elapsed (the "MB/sec" of
	// kafka-producer-perf-test).
	MiBPerSec float64 `json:"mib_per_sec"`

	// Latency is, for produce, from enqueue (or, with a rate, the scheduled
	// send time) to acknowledgement of each acknowledged record; for consume,
	// end to end, from the producer's timestamp header to receipt.
	Latency Latency `json:"latency"`
	// LatencyKind names what Latency measures.
	LatencyKind string `json:"latency_kind"`
	// Errors counts failures by message, most frequent first.
	Errors []ErrorCount `json:"errors,omitempty"`
	// Interrupted is set when the context ended the run early.
	Interrupted bool `json:"interrupted,omitempty"`
}

// ErrorCount is one distinct failure and how often it occurred.
type ErrorCount struct {
	Error string `json:"error"`
	Count int64  `json:"count"`
}

// finish computes the derived figures from the counts and Elapsed.
func (r *Result) finish(records int64) {
	r.ElapsedSeconds = r.Elapsed.Seconds()
	if r.Elapsed > 0 {
		r.RecordsPerSec = float64(records) / r.Elapsed.Seconds()
		r.MiBPerSec = float64(r.Bytes) / (1 << 20) / r.Elapsed.Seconds()
	}
}

// errorCounts turns a map of messages to counts into a sorted slice (most
// frequent first, then by message).
func errorCounts(m map[string]int64) []ErrorCount {
	if len(m) == 0 {
		return nil
	}
	out := make([]ErrorCount, 0, len(m))
	for e, n := range m {
		out = append(out, ErrorCount{Error: e, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Error < out[j].Error
	})
	return out
}
