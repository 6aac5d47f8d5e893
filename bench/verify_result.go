package bench

import (
	"encoding/json"
	"fmt"
	"time"
)

// VerifyCounts are the checker's counts, for one partition or the whole
// topic. Every record sent is in exactly one of Acked, Failed and Unknown:
// Sent == Acked + Failed + Unknown. The other counts come from reading the
// topic back.
type VerifyCounts struct {
	// Sent counts records handed to the client.
	Sent int64 `json:"sent"`
	// Acked counts records the broker acknowledged (acks=all).
	Acked int64 `json:"acked"`
	// Failed counts records the broker refused with a non-retriable error.
	Failed int64 `json:"failed"`
	// Unknown counts records without an answer: timed out, still in flight
	// when the client gave up, or failed with a retriable error. They may
	// or may not be in the log.
	Unknown int64 `json:"unknown"`

	// Read counts this run's records read back in the last pass, copies
	// included.
	Read int64 `json:"read"`
	// Foreign counts other records read (earlier runs, other writers); they
	// are not checked.
	Foreign int64 `json:"foreign"`

	// Lost counts acknowledged records not found where the last pass read.
	Lost int64 `json:"lost"`
	// Unverified counts acknowledged records not found because their
	// partition could not be read up to their offset (read timeout). They
	// fail the check: nothing proves they are there.
	Unverified int64 `json:"unverified"`
	// Duplicated counts extra copies: a record found at k offsets adds k-1.
	Duplicated int64 `json:"duplicated"`
	// Reordered counts records found after a later record of the same
	// producer in the same partition.
	Reordered int64 `json:"reordered"`

	// OffsetMismatch counts acknowledged records found, but not at the
	// offset the broker acknowledged: the acknowledged offset holds another
	// record or none.
	OffsetMismatch int64 `json:"offset_mismatch"`
	// Misplaced counts records found in a partition other than the one they
	// were sent to.
	Misplaced int64 `json:"misplaced"`
	// Conflicting counts offsets that held different records in different
	// reads (passes, or a re-read within one pass).
	Conflicting int64 `json:"conflicting"`
	// Vanished counts offsets read in one pass and missing from a later
	// pass that read past them.
	Vanished int64 `json:"vanished"`
	// Inconsistent is OffsetMismatch + Misplaced + Conflicting + Vanished.
	Inconsistent int64 `json:"inconsistent"`

	// Corrupt counts records of this run whose checksum does not match
	// their contents, or whose identity was never sent.
	Corrupt int64 `json:"corrupt"`
	// UnackedPresent counts records found that were not acknowledged
	// (failed or unknown): allowed, Kafka promises nothing about them.
	UnackedPresent int64 `json:"unacked_present"`

	// The counts below are kept only when the producers were
	// transactional (VerifyConfig.Transactional).

	// TxnAborted counts records sent in transactions that were aborted,
	// on purpose or after a failure: none may be read.
	TxnAborted int64 `json:"txn_aborted"`
	// TxnUnknown counts records sent in transactions whose commit was not
	// acknowledged: they may be read, but only with every other record of
	// their transaction.
	TxnUnknown int64 `json:"txn_unknown"`
	// AbortedSeen counts records of aborted transactions read with
	// read_committed, copies included.
	AbortedSeen int64 `json:"aborted_seen"`
	// Partial counts records missing from transactions of unknown outcome
	// of which other records were read: the transaction was not atomic.
	Partial int64 `json:"partial"`
}

// add adds o to c.
func (c *VerifyCounts) add(o VerifyCounts) {
	c.Sent += o.Sent
	c.Acked += o.Acked
	c.Failed += o.Failed
	c.Unknown += o.Unknown
	c.Read += o.Read
	c.Foreign += o.Foreign
	c.Lost += o.Lost
	c.Unverified += o.Unverified
	c.Duplicated += o.Duplicated
	c.Reordered += o.Reordered
	c.OffsetMismatch += o.OffsetMismatch
	c.Misplaced += o.Misplaced
	c.Conflicting += o.Conflicting
	c.Vanished += o.Vanished
	c.Corrupt += o.Corrupt
	c.UnackedPresent += o.UnackedPresent
	c.TxnAborted += o.TxnAborted
	c.TxnUnknown += o.TxnUnknown
	c.AbortedSeen += o.AbortedSeen
	c.Partial += o.Partial
	c.Inconsistent = c.OffsetMismatch + c.Misplaced + c.Conflicting + c.Vanished
}

// VerifyTxns counts the transactions of a transactional run by what the
// producers learned of them.
type VerifyTxns struct {
	// Committed counts transactions whose commit was acknowledged.
	Committed int64 `json:"committed"`
	// Aborted counts transactions the producers aborted, on purpose or
	// after a failure, or never ended.
	Aborted int64 `json:"aborted"`
	// AbortedDeliberately counts the Aborted aborted on purpose
	// (VerifyConfig.AbortEvery).
	AbortedDeliberately int64 `json:"aborted_deliberately"`
	// Unknown counts transactions whose commit was not acknowledged.
	Unknown int64 `json:"unknown"`
	// Partial counts the Unknown read only in part (they fail the check).
	Partial int64 `json:"partial"`
}

// VerifyPartition is the check of one partition.
type VerifyPartition struct {
	Partition int32 `json:"partition"`
	VerifyCounts
	// StartOffset is where the read-back began: the partition's end before
	// the load (or the lowest acknowledged offset, if lower).
	StartOffset int64 `json:"start_offset"`
	// EndOffset is the high watermark the last pass read up to, or where
	// it stopped when incomplete.
	EndOffset int64 `json:"end_offset"`
	// Complete is set when every pass read the partition up to its high
	// watermark.
	Complete bool `json:"complete"`
	// Leaders are the broker ids that led the partition when each pass
	// began (-1 when unknown).
	Leaders []int32 `json:"leaders"`
	// LongestStall is the longest time during the load in which records
	// for this partition were outstanding and none was acknowledged: how
	// long the partition refused (or did not answer) writes.
	LongestStall time.Duration `json:"-"`
	// LongestStallMs is LongestStall in milliseconds, for JSON.
	LongestStallMs float64 `json:"longest_stall_ms"`
	// StallStart is when that stall began, relative to the start of the
	// load.
	StallStart time.Duration `json:"-"`
	// StallStartSeconds is StallStart in seconds, for JSON.
	StallStartSeconds float64 `json:"stall_start_s"`
}

// Finding is one problem the checker found, for the report.
type Finding struct {
	// Kind is "lost", "unverified", "duplicated", "reordered",
	// "offset-mismatch", "misplaced", "conflicting", "vanished",
	// "corrupt", and in transactional runs "aborted-seen" and "partial".
	Kind      string `json:"kind"`
	Partition int32  `json:"partition"`
	// Offset is where the record was found, or for a lost record the
	// offset it was acknowledged at.
	Offset   int64  `json:"offset"`
	Producer uint32 `json:"producer"`
	Seq      uint64 `json:"seq"`
	// Detail says what was seen.
	Detail string `json:"detail"`
}

// VerifyResult is the outcome of Verify. OK reports whether the cluster kept
// its promise; Problems says why not.
type VerifyResult struct {
	// Settings are the effective settings of the run, by flag name.
	Settings map[string]string `json:"settings"`
	// Run is the run id carried in every record key (hex).
	Run string `json:"run"`
	// Idempotent is set when the producers were idempotent: duplicates and
	// reorders then fail the check.
	Idempotent bool `json:"idempotent"`
	// Transactional is set when the producers were transactional and the
	// read-back read_committed.
	Transactional bool `json:"transactional,omitempty"`
	// Transactions counts the transactions of a transactional run.
	Transactions VerifyTxns `json:"transactions,omitzero"`
	// Started is when the load began.
	Started time.Time `json:"started"`
	// Load is the time from the start of the load until every record was
	// answered (or given up on).
	Load time.Duration `json:"-"`
	// LoadSeconds is Load in seconds, for JSON.
	LoadSeconds float64 `json:"load_s"`
	// ReadBack is the time the read-back passes took.
	ReadBack time.Duration `json:"-"`
	// ReadBackSeconds is ReadBack in seconds, for JSON.
	ReadBackSeconds float64 `json:"read_back_s"`
	// ReadPasses is the number of read-back passes made.
	ReadPasses int `json:"read_passes"`

	// Totals sums the partitions.
	Totals VerifyCounts `json:"totals"`
	// Partitions holds one entry per partition, in partition order.
	Partitions []VerifyPartition `json:"partitions"`
	// LongestStall is the longest stall of any partition.
	LongestStall time.Duration `json:"-"`
	// LongestStallMs is LongestStall in milliseconds, for JSON.
	LongestStallMs float64 `json:"longest_stall_ms"`
	// Latency is from the send of each acknowledged record to its
	// acknowledgement.
	Latency Latency `json:"latency"`

	// ProduceErrors counts produce failures by message.
	ProduceErrors []ErrorCount `json:"produce_errors,omitempty"`
	// ReadErrors counts read-back errors by message (the client retries
	// retriable ones itself; these are the rest, and data-loss reports).
	ReadErrors []ErrorCount `json:"read_errors,omitempty"`
	// Findings lists individual problems, at most MaxFindings of them.
	Findings []Finding `json:"findings,omitempty"`
	// Interrupted is set when the context ended the run early.
	Interrupted bool `json:"interrupted,omitempty"`
}

// OK reports whether the check passed: no acknowledged record lost or left
// unverified, nothing inconsistent or corrupt, no duplicate or reorder when
// the producers were idempotent, at least one record acknowledged, and the
// run not interrupted. In a transactional run an acknowledged record is
// owed only when its transaction committed, at least one transaction must
// have committed, no record of an aborted transaction may be read, and no
// transaction of unknown outcome may be read in part.
func (r VerifyResult) OK() bool { return len(r.Problems()) == 0 }

// Problems lists why the check failed, one sentence each; empty when it
// passed.
func (r VerifyResult) Problems() []string {
	var p []string
	t := r.Totals
	if r.Interrupted {
		p = append(p, "the run was interrupted")
	}
	if t.Sent != t.Acked+t.Failed+t.Unknown {
		p = append(p, fmt.Sprintf("bookkeeping: %d sent but %d acknowledged + %d failed + %d unknown", t.Sent, t.Acked, t.Failed, t.Unknown))
	}
	if t.Acked == 0 {
		p = append(p, "no record was acknowledged, so nothing was checked")
	}
	if r.Transactional && r.Transactions.Committed == 0 {
		p = append(p, "no transaction was committed, so nothing was checked")
	}
	if t.Lost > 0 {
		if r.Transactional {
			p = append(p, fmt.Sprintf("%d records of committed transactions lost", t.Lost))
		} else {
			p = append(p, fmt.Sprintf("%d acknowledged records lost", t.Lost))
		}
	}
	if t.Unverified > 0 {
		p = append(p, fmt.Sprintf("%d acknowledged records unverified: their partitions were not read to the end", t.Unverified))
	}
	var incomplete []int32
	for _, pt := range r.Partitions {
		if !pt.Complete {
			incomplete = append(incomplete, pt.Partition)
		}
	}
	if len(incomplete) > 0 {
		p = append(p, fmt.Sprintf("partitions %v not read up to their high watermark", incomplete))
	}
	if r.Idempotent && t.Duplicated > 0 {
		p = append(p, fmt.Sprintf("%d duplicated records from idempotent producers", t.Duplicated))
	}
	if r.Idempotent && t.Reordered > 0 {
		p = append(p, fmt.Sprintf("%d reordered records from idempotent producers", t.Reordered))
	}
	if t.Inconsistent > 0 {
		p = append(p, fmt.Sprintf("%d inconsistencies (%d offset mismatches, %d misplaced, %d conflicting reads, %d vanished)",
			t.Inconsistent, t.OffsetMismatch, t.Misplaced, t.Conflicting, t.Vanished))
	}
	if t.Corrupt > 0 {
		p = append(p, fmt.Sprintf("%d corrupt records", t.Corrupt))
	}
	if t.AbortedSeen > 0 {
		p = append(p, fmt.Sprintf("%d records of aborted transactions read with read_committed", t.AbortedSeen))
	}
	if t.Partial > 0 {
		p = append(p, fmt.Sprintf("%d records missing from %d transactions of unknown outcome that were read in part (not atomic)",
			t.Partial, r.Transactions.Partial))
	}
	return p
}

// finish fills the JSON figures (milliseconds, seconds) from the durations.
// It copies Partitions rather than change the caller's.
func (r *VerifyResult) finish() {
	r.LoadSeconds, r.ReadBackSeconds = r.Load.Seconds(), r.ReadBack.Seconds()
	r.LongestStallMs = float64(r.LongestStall) / float64(time.Millisecond)
	parts := make([]VerifyPartition, len(r.Partitions))
	for i, p := range r.Partitions {
		p.LongestStallMs = float64(p.LongestStall) / float64(time.Millisecond)
		p.StallStartSeconds = p.StallStart.Seconds()
		parts[i] = p
	}
	r.Partitions = parts
}

// MarshalJSON adds "ok" and "problems" to the result's fields, and fills
// the figures in milliseconds and seconds from the durations.
func (r VerifyResult) MarshalJSON() ([]byte, error) {
	type plain VerifyResult
	r.finish()
	problems := r.Problems()
	if problems == nil {
		problems = []string{}
	}
	return json.Marshal(struct {
		OK       bool     `json:"ok"`
		Problems []string `json:"problems"`
		plain
	}{len(problems) == 0, problems, plain(r)})
}
