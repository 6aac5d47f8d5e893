package raftbench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Result is the outcome of Run. Counts cover the measured phase only, and
// every proposal made in it is either in Proposals or in Failed.
type Result struct {
	// Kind is "raft".
	Kind string `json:"kind"`
	// Settings are the effective settings, by flag name of `chronik bench
	// raft` (and the Raft settings from raftconf).
	Settings map[string]string `json:"settings"`
	// Started is when the measured phase began.
	Started time.Time `json:"started"`
	// Elapsed is the length of the measured phase (Duration, or less when
	// interrupted).
	Elapsed time.Duration `json:"-"`
	// ElapsedSeconds is Elapsed in seconds, for JSON.
	ElapsedSeconds float64 `json:"elapsed_s"`

	// Proposals counts proposals applied on their leader in the measured
	// phase.
	Proposals int64 `json:"proposals"`
	// Bytes is their payload: Proposals * Payload.
	Bytes int64 `json:"bytes"`
	// Failed counts proposals of the measured phase that did not complete
	// (refused, timed out, dropped, rejected, terminated).
	Failed int64 `json:"failed"`
	// WarmupProposals counts proposals applied during the warm-up.
	WarmupProposals int64 `json:"warmup_proposals,omitempty"`

	// ProposalsPerSec is Proposals divided by Elapsed.
	ProposalsPerSec float64 `json:"proposals_per_sec"`
	// MBPerSec is Bytes/10^6 divided by Elapsed.
	MBPerSec float64 `json:"mb_per_sec"`
	// MiBPerSec is Bytes/2^20 divided by Elapsed.
	MiBPerSec float64 `json:"mib_per_sec"`
	// Latency runs from Propose to the leader's applied notification, for
	// each proposal in Proposals.
	Latency Latency `json:"latency"`
	// CPUCores is this process's CPU time during the measured phase
	// divided by Elapsed; -1 where it cannot be read.
	CPUCores float64 `json:"cpu_cores"`
	// Idle is set for an idle run (Config.Idle): no proposals, and the
	// figures are CPUCores, IdleCPUCoresPerNode and HeapPerReplicaBytes.
	Idle bool `json:"idle,omitempty"`
	// IdleCPUCoresPerNode is CPUCores divided by the nodes, in an idle run
	// (Config.Idle): what one NodeHost with Shards idle replicas costs.
	IdleCPUCoresPerNode float64 `json:"idle_cpu_cores_per_node,omitempty"`
	// HeapPerReplicaBytes is the process's live heap after a forced
	// collection divided by the replicas, in an idle run.
	HeapPerReplicaBytes float64 `json:"heap_per_replica_bytes,omitempty"`
	// Leaders[i] is how many shards node i+1 led when the load started.
	Leaders []int `json:"leaders"`
	// Errors counts failures by message, most frequent first.
	Errors []ErrorCount `json:"errors,omitempty"`
	// Lagging lists the replicas that had not applied as many entries as
	// their leader a few seconds after the run; empty when all agree.
	Lagging []string `json:"lagging,omitempty"`
	// Dir is the data directory when it was kept (Config.Dir).
	Dir string `json:"dir,omitempty"`
	// Interrupted is set when the context ended the run early.
	Interrupted bool `json:"interrupted,omitempty"`
}

// ErrorCount is one distinct failure and how often it occurred.
type ErrorCount struct {
	Error string `json:"error"`
	Count int64  `json:"count"`
}

// errorCounts turns a map of messages to counts into a slice, most frequent
// first, then by message.
func errorCounts(m map[string]int64) []ErrorCount {
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
	if len(out) == 0 {
		return nil
	}
	return out
}

// WriteJSON writes r as one JSON object followed by a newline.
func WriteJSON(w io.Writer, r Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode raft result: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write raft result: %w", err)
	}
	return nil
}

// WriteText writes r as a short report in the shape of chronik's other
// bench reports: counts, throughput, latency, CPU (or, for an idle run,
// CPU per node and heap per replica), leaders, replica check, errors and
// settings.
func WriteText(w io.Writer, r Result) error {
	var b strings.Builder
	if r.Idle {
		writeIdle(&b, r)
		return writeReport(w, &b, r)
	}
	fmt.Fprintf(&b, "raft: %s proposals applied, %s failed in %s", commas(r.Proposals), commas(r.Failed), roundDuration(r.Elapsed))
	if r.WarmupProposals > 0 {
		fmt.Fprintf(&b, " (after a warm-up of %s proposals, excluded)", commas(r.WarmupProposals))
	}
	if r.Interrupted {
		b.WriteString(" [interrupted]")
	}
	b.WriteByte('\n')
	fmt.Fprintf(&b, "throughput: %s proposals/s, %.2f MB/s, %.2f MiB/s\n",
		commas(int64(r.ProposalsPerSec+0.5)), r.MBPerSec, r.MiBPerSec)
	if l := r.Latency; l.Count > 0 {
		fmt.Fprintf(&b, "latency (propose to applied on the leader, ms): p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (min %s, mean %s, n=%s)\n",
			fmtMs(l.P50), fmtMs(l.P90), fmtMs(l.P99), fmtMs(l.P999), fmtMs(l.Max), fmtMs(l.Min), fmtMs(l.Mean), commas(l.Count))
	} else {
		b.WriteString("latency (propose to applied on the leader): no samples\n")
	}
	if r.CPUCores >= 0 {
		fmt.Fprintf(&b, "cpu: %.2f cores (this process: every replica of every shard)\n", r.CPUCores)
	}
	return writeReport(w, &b, r)
}

// writeIdle writes the figures of an idle run.
func writeIdle(b *strings.Builder, r Result) {
	fmt.Fprintf(b, "raft idle: %s shards on %d nodes, no load for %s",
		r.Settings["shards"], len(r.Leaders), roundDuration(r.Elapsed))
	if r.Interrupted {
		b.WriteString(" [interrupted]")
	}
	b.WriteByte('\n')
	if r.CPUCores >= 0 {
		fmt.Fprintf(b, "cpu: %.3f cores per node (%.3f for the process)\n", r.IdleCPUCoresPerNode, r.CPUCores)
	}
	fmt.Fprintf(b, "heap: %.3f MB per replica (live heap after a GC, over every replica)\n", r.HeapPerReplicaBytes/1e6)
}

// writeReport ends a report with what every run prints (leaders, replica
// check, errors, settings, kept directory) and writes it to w.
func writeReport(w io.Writer, b *strings.Builder, r Result) error {
	b.WriteString("leaders:")
	for i, n := range r.Leaders {
		fmt.Fprintf(b, " node%d=%d", i+1, n)
	}
	b.WriteByte('\n')
	if len(r.Lagging) == 0 {
		b.WriteString("replicas: every replica applied as many entries as its leader\n")
	} else {
		fmt.Fprintf(b, "replicas: lagging: %s\n", strings.Join(r.Lagging, "; "))
	}
	for _, e := range r.Errors {
		fmt.Fprintf(b, "error: %s x %s\n", commas(e.Count), e.Error)
	}
	keys := make([]string, 0, len(r.Settings))
	for k := range r.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString("settings:")
	for _, k := range keys {
		fmt.Fprintf(b, " %s=%s", k, r.Settings[k])
	}
	b.WriteByte('\n')
	if r.Dir != "" {
		fmt.Fprintf(b, "data kept in %s\n", r.Dir)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write raft report: %w", err)
	}
	return nil
}

// fmtMs prints milliseconds with three decimals below 10 and fewer above.
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
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String()
}

// formatSize renders n bytes in the largest binary unit that divides it
// ("64KiB", "1MiB", "1000B"), the way a user types it.
func formatSize(n int) string {
	for _, u := range []struct {
		shift uint
		name  string
	}{{30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return strconv.Itoa(n>>u.shift) + u.name
		}
	}
	return strconv.Itoa(n) + "B"
}

func roundDuration(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}
