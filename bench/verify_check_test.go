package bench

import (
	"slices"
	"strings"
	"testing"
)

// Helpers that build synthetic histories for the checker. One producer
// (0) unless a test says otherwise; fingerprints follow the identity, so
// two reads of one record agree and reads of different records do not.

func acked(p int32, off int64) sentRecord {
	return sentRecord{partition: p, outcome: outcomeAcked, offset: off}
}
func failed(p int32) sentRecord  { return sentRecord{partition: p, outcome: outcomeFailed} }
func unknown(p int32) sentRecord { return sentRecord{partition: p, outcome: outcomeUnknown} }

// ours is record (0, seq), sent to p, read at partition p offset off.
func ours(p int32, off int64, seq uint64) readRecord {
	return readRecord{partition: p, offset: off, fp: 1000 + seq, kind: kindOurs, id: recordID{0, seq}, target: p}
}

// foreign is another writer's record at p/off.
func foreign(p int32, off int64) readRecord {
	return readRecord{partition: p, offset: off, fp: 7_000_000 + uint64(off), kind: kindForeign}
}

// pass is a read of partitions 0 and 1 from offset 0 to each partition's
// highest record + 1, complete.
func pass(recs ...readRecord) readPass {
	rp := readPass{records: recs, parts: map[int32]partRead{0: {complete: true, leader: 1}, 1: {complete: true, leader: 1}}}
	for _, r := range recs {
		pr := rp.parts[r.partition]
		pr.end = max(pr.end, r.offset+1)
		rp.parts[r.partition] = pr
	}
	return rp
}

func TestCheck(t *testing.T) {
	three := []sentRecord{acked(0, 0), acked(0, 1), acked(0, 2)}
	clean := pass(ours(0, 0, 0), ours(0, 1, 1), ours(0, 2, 2))
	for _, tc := range []struct {
		name   string
		sent   []sentRecord
		passes []readPass
		want   VerifyCounts // Sent/Acked/Failed/Unknown/Inconsistent are filled in by the test
		kinds  []string     // finding kinds, in order
	}{
		{name: "clean", sent: three, passes: []readPass{clean, clean}, want: VerifyCounts{Read: 3}},
		{
			name: "lost", sent: three,
			passes: []readPass{pass(ours(0, 0, 0), ours(0, 2, 2))},
			want:   VerifyCounts{Read: 2, Lost: 1}, kinds: []string{"lost"},
		},
		{
			name: "lost above a high watermark that went back", sent: three,
			passes: []readPass{pass(ours(0, 0, 0), ours(0, 1, 1))},
			want:   VerifyCounts{Read: 2, Lost: 1}, kinds: []string{"lost"},
		},
		{
			name: "unverified when the read stopped short", sent: three,
			passes: func() []readPass {
				p := pass(ours(0, 0, 0))
				p.parts[0] = partRead{end: 1} // incomplete
				return []readPass{p}
			}(),
			want: VerifyCounts{Read: 1, Unverified: 2}, kinds: []string{"unverified", "unverified"},
		},
		{
			name: "lost below where an incomplete read stopped",
			sent: three,
			passes: func() []readPass {
				p := pass(ours(0, 0, 0), ours(0, 2, 2))
				p.parts[0] = partRead{end: 3}
				return []readPass{p}
			}(),
			want: VerifyCounts{Read: 2, Lost: 1}, kinds: []string{"lost"},
		},
		{
			name: "duplicated", sent: three,
			passes: []readPass{pass(ours(0, 0, 0), ours(0, 1, 1), ours(0, 2, 2), ours(0, 3, 1))},
			want:   VerifyCounts{Read: 4, Duplicated: 1}, kinds: []string{"duplicated"},
		},
		{
			name: "reordered", sent: []sentRecord{acked(0, 1), acked(0, 0), acked(0, 2)},
			passes: []readPass{pass(ours(0, 0, 1), ours(0, 1, 0), ours(0, 2, 2))},
			want:   VerifyCounts{Read: 3, Reordered: 1}, kinds: []string{"reordered"},
		},
		{
			name: "acknowledged offset holds another record", sent: three,
			passes: []readPass{pass(ours(0, 0, 0), foreign(0, 1), ours(0, 2, 2), ours(0, 3, 1))},
			// seq 1 also comes after seq 2 now.
			want: VerifyCounts{Read: 3, Foreign: 1, OffsetMismatch: 1, Reordered: 1}, kinds: []string{"reordered", "offset-mismatch"},
		},
		{
			name: "two records at one offset across passes", sent: three,
			passes: []readPass{clean, pass(ours(0, 0, 0), foreign(0, 1), ours(0, 2, 2))},
			want:   VerifyCounts{Read: 2, Foreign: 1, Conflicting: 1, Lost: 1}, kinds: []string{"conflicting", "lost"},
		},
		{
			name: "two records at one offset within a pass", sent: three,
			passes: []readPass{pass(ours(0, 0, 0), ours(0, 1, 1), ours(0, 2, 2), foreign(0, 1))},
			want:   VerifyCounts{Read: 2, Foreign: 1, Conflicting: 1, Lost: 1}, kinds: []string{"conflicting", "lost"},
		},
		{
			name: "vanished between passes", sent: three,
			passes: func() []readPass {
				p := pass(ours(0, 0, 0), ours(0, 2, 2))
				return []readPass{clean, p}
			}(),
			want: VerifyCounts{Read: 2, Vanished: 1, Lost: 1}, kinds: []string{"vanished", "lost"},
		},
		{
			name: "corrupt payload", sent: three,
			passes: []readPass{pass(ours(0, 0, 0), readRecord{partition: 0, offset: 1, fp: 5, kind: kindCorrupt, id: recordID{0, 1}}, ours(0, 2, 2))},
			want:   VerifyCounts{Read: 2, Corrupt: 1, Lost: 1}, kinds: []string{"corrupt", "lost"},
		},
		{
			name: "an identity never sent", sent: three,
			passes: []readPass{pass(ours(0, 0, 0), ours(0, 1, 1), ours(0, 2, 2), ours(0, 3, 99))},
			want:   VerifyCounts{Read: 3, Corrupt: 1}, kinds: []string{"corrupt"},
		},
		{
			name: "misplaced", sent: []sentRecord{acked(0, 0), acked(0, 1)},
			passes: func() []readPass {
				r := ours(1, 0, 1)
				r.target = 0 // the key says partition 0; it is in 1
				return []readPass{pass(ours(0, 0, 0), r)}
			}(),
			want: VerifyCounts{Read: 2, Misplaced: 1, OffsetMismatch: 1}, kinds: []string{"misplaced", "offset-mismatch"},
		},
		{
			name:   "unacknowledged records present are allowed",
			sent:   []sentRecord{acked(0, 0), failed(0), unknown(0), unknown(1), {partition: 1}},
			passes: []readPass{pass(ours(0, 0, 0), ours(0, 1, 1), ours(0, 2, 2))},
			want:   VerifyCounts{Read: 3, UnackedPresent: 2},
		},
		{
			name:   "records of other writers are not checked",
			sent:   []sentRecord{acked(0, 2), acked(0, 3), acked(0, 4)},
			passes: []readPass{pass(foreign(0, 0), foreign(0, 1), ours(0, 2, 0), ours(0, 3, 1), ours(0, 4, 2))},
			want:   VerifyCounts{Read: 3, Foreign: 2},
		},
		{
			name:   "records found one offset off",
			sent:   three,
			passes: []readPass{pass(foreign(0, 0), ours(0, 1, 0), ours(0, 2, 1), ours(0, 3, 2))},
			want:   VerifyCounts{Read: 3, Foreign: 1, OffsetMismatch: 3}, kinds: []string{"offset-mismatch", "offset-mismatch", "offset-mismatch"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := check(checkInput{partitions: 2, sent: [][]sentRecord{tc.sent}, passes: tc.passes, maxFindings: 10})
			want := tc.want
			for _, s := range tc.sent {
				want.Sent++
				switch s.outcome {
				case outcomeAcked:
					want.Acked++
				case outcomeFailed:
					want.Failed++
				default:
					want.Unknown++
				}
			}
			want.Inconsistent = want.OffsetMismatch + want.Misplaced + want.Conflicting + want.Vanished
			if out.totals != want {
				t.Errorf("totals\n got %+v\nwant %+v", out.totals, want)
			}
			var kinds []string
			for _, f := range out.findings {
				kinds = append(kinds, f.Kind)
			}
			if !slices.Equal(kinds, tc.kinds) {
				t.Errorf("findings %v, want kinds %v", out.findings, tc.kinds)
			}
			var sum VerifyCounts
			for _, p := range out.parts {
				sum.add(p.VerifyCounts)
			}
			if sum != out.totals {
				t.Errorf("partitions sum to %+v, totals are %+v", sum, out.totals)
			}
		})
	}
}

func TestCheckFindingsDetail(t *testing.T) {
	out := check(checkInput{
		partitions:  2,
		sent:        [][]sentRecord{{acked(0, 0), acked(0, 1)}},
		passes:      []readPass{pass(ours(0, 0, 0))},
		maxFindings: 10,
	})
	if len(out.findings) != 1 {
		t.Fatalf("findings %+v, want one", out.findings)
	}
	f := out.findings[0]
	if f.Kind != "lost" || f.Partition != 0 || f.Offset != 1 || f.Producer != 0 || f.Seq != 1 || !strings.Contains(f.Detail, "not found") {
		t.Errorf("finding %+v: want lost p0 offset 1 producer 0 seq 1", f)
	}
	if p := out.parts[0]; !p.Complete || p.EndOffset != 1 || !slices.Equal(p.Leaders, []int32{1}) {
		t.Errorf("partition 0 %+v: want complete, end 1, leaders [1]", p)
	}
}

func TestCheckFindingsCapped(t *testing.T) {
	var sent []sentRecord
	for i := range 100 {
		sent = append(sent, acked(0, int64(i)))
	}
	out := check(checkInput{partitions: 1, sent: [][]sentRecord{sent}, passes: []readPass{pass()}, maxFindings: 5})
	if out.totals.Lost != 100 || len(out.findings) != 5 {
		t.Errorf("lost %d with %d findings, want 100 with 5", out.totals.Lost, len(out.findings))
	}
}

func TestCheckWithoutPasses(t *testing.T) {
	out := check(checkInput{partitions: 2, sent: [][]sentRecord{{acked(0, 0)}}, maxFindings: 5})
	if out.totals.Lost != 0 || out.parts[0].Complete || out.parts[1].Complete {
		t.Errorf("no read pass: totals %+v, parts %+v: want nothing lost and nothing complete", out.totals, out.parts)
	}
}

func TestVerifyResultProblems(t *testing.T) {
	okParts := []VerifyPartition{{Partition: 0, Complete: true}}
	base := VerifyResult{Idempotent: true, Totals: VerifyCounts{Sent: 10, Acked: 9, Unknown: 1}, Partitions: okParts}
	for _, tc := range []struct {
		name string
		mod  func(*VerifyResult)
		want string // "" means OK
	}{
		{"clean", func(*VerifyResult) {}, ""},
		{"lost", func(r *VerifyResult) { r.Totals.Lost = 2 }, "2 acknowledged records lost"},
		{"unverified", func(r *VerifyResult) { r.Totals.Unverified = 1 }, "unverified"},
		{"incomplete", func(r *VerifyResult) { r.Partitions = []VerifyPartition{{Partition: 3}} }, "partitions [3] not read"},
		{"duplicated, idempotent", func(r *VerifyResult) { r.Totals.Duplicated = 1 }, "1 duplicated"},
		{"duplicated, plain retries", func(r *VerifyResult) { r.Totals.Duplicated = 1; r.Idempotent = false }, ""},
		{"reordered, idempotent", func(r *VerifyResult) { r.Totals.Reordered = 1 }, "1 reordered"},
		{"reordered, plain retries", func(r *VerifyResult) { r.Totals.Reordered = 1; r.Idempotent = false }, ""},
		{"inconsistent", func(r *VerifyResult) { r.Totals.Conflicting, r.Totals.Inconsistent = 1, 1 }, "1 conflicting reads"},
		{"corrupt", func(r *VerifyResult) { r.Totals.Corrupt = 1 }, "1 corrupt"},
		{"nothing acknowledged", func(r *VerifyResult) { r.Totals = VerifyCounts{Sent: 3, Unknown: 3} }, "no record was acknowledged"},
		{"bookkeeping", func(r *VerifyResult) { r.Totals.Sent = 11 }, "bookkeeping"},
		{"interrupted", func(r *VerifyResult) { r.Interrupted = true }, "interrupted"},
		{"unacked present is fine", func(r *VerifyResult) { r.Totals.UnackedPresent = 1 }, ""},
		{"transactional", func(r *VerifyResult) { r.Transactional, r.Transactions.Committed = true, 1 }, ""},
		{"transactional, unknown and aborted sent are fine", func(r *VerifyResult) {
			r.Transactional, r.Transactions = true, VerifyTxns{Committed: 1, Aborted: 1, Unknown: 1}
			r.Totals.TxnAborted, r.Totals.TxnUnknown = 3, 3
		}, ""},
		{"transactional, none committed", func(r *VerifyResult) { r.Transactional = true }, "no transaction was committed"},
		{"transactional, lost", func(r *VerifyResult) { r.Transactional, r.Transactions.Committed, r.Totals.Lost = true, 1, 2 },
			"2 records of committed transactions lost"},
		{"aborted seen", func(r *VerifyResult) { r.Transactional, r.Transactions.Committed, r.Totals.AbortedSeen = true, 1, 4 },
			"4 records of aborted transactions read with read_committed"},
		{"partial", func(r *VerifyResult) {
			r.Transactional, r.Transactions.Committed, r.Transactions.Partial, r.Totals.Partial = true, 1, 1, 3
		}, "3 records missing from 1 transactions of unknown outcome"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			tc.mod(&r)
			got := strings.Join(r.Problems(), "; ")
			if tc.want == "" {
				if !r.OK() || got != "" {
					t.Errorf("OK %v, problems %q: want OK", r.OK(), got)
				}
				return
			}
			if r.OK() || !strings.Contains(got, tc.want) {
				t.Errorf("OK %v, problems %q: want a failure mentioning %q", r.OK(), got, tc.want)
			}
		})
	}
}

// txnRead is record (0, seq) of a transaction, read at p/off.
func txnRead(p int32, off int64, seq uint64, flags recordFlags) readRecord {
	r := ours(p, off, seq)
	r.flags = flags | flagTxn
	return r
}

func TestCheckTransactions(t *testing.T) {
	// Producer 0 sends three transactions over partitions 0 and 1:
	// seq 0-1 (p0 offset 0, p1 offset 0), then its commit markers at p0/1
	// and p1/1; seq 2-3 (p0 offset 2, p1 offset 2), markers at 3; seq 4-5
	// (p0 offset 4, p1 offset 4).
	sent := []sentRecord{acked(0, 0), acked(1, 0), acked(0, 2), acked(1, 2), acked(0, 4), acked(1, 4)}
	txns := func(o0, o1, o2 txnOutcome) []sentTxn {
		return []sentTxn{{first: 0, n: 2, outcome: o0}, {first: 2, n: 2, outcome: o1, deliberate: o1 == txnAborted}, {first: 4, n: 2, outcome: o2}}
	}
	c, a, u := txnCommitted, txnAborted, txnUnknown
	t0 := []readRecord{txnRead(0, 0, 0, 0), txnRead(1, 0, 1, 0)}
	t1 := []readRecord{txnRead(0, 2, 2, 0), txnRead(1, 2, 3, 0)}
	t1aborted := []readRecord{txnRead(0, 2, 2, flagAbort), txnRead(1, 2, 3, flagAbort)}
	t2 := []readRecord{txnRead(0, 4, 4, 0), txnRead(1, 4, 5, 0)}
	recs := func(rs ...[]readRecord) readPass { return pass(slices.Concat(rs...)...) }
	for _, tc := range []struct {
		name   string
		txns   []sentTxn
		passes []readPass
		want   VerifyCounts // Sent/Acked/Inconsistent are filled in by the test
		tx     VerifyTxns
		kinds  []string
	}{
		{
			name: "all committed", txns: txns(c, c, c), passes: []readPass{recs(t0, t1, t2), recs(t0, t1, t2)},
			want: VerifyCounts{Read: 6}, tx: VerifyTxns{Committed: 3},
		},
		{
			name: "an aborted transaction hidden", txns: txns(c, a, c), passes: []readPass{recs(t0, t2)},
			want: VerifyCounts{Read: 4, TxnAborted: 2}, tx: VerifyTxns{Committed: 2, Aborted: 1, AbortedDeliberately: 1},
		},
		{
			name: "an aborted transaction read", txns: txns(c, a, c), passes: []readPass{recs(t0, t1aborted, t2)},
			want: VerifyCounts{Read: 6, TxnAborted: 2, AbortedSeen: 2}, tx: VerifyTxns{Committed: 2, Aborted: 1, AbortedDeliberately: 1},
			kinds: []string{"aborted-seen", "aborted-seen"},
		},
		{
			name: "a transaction aborted after a failure read",
			txns: []sentTxn{{first: 0, n: 2, outcome: c}, {first: 2, n: 2, outcome: a}, {first: 4, n: 2, outcome: c}},
			// Not marked in the key: the producer decided to abort after
			// sending.
			passes: []readPass{recs(t0, t1[:1], t2)},
			want:   VerifyCounts{Read: 5, TxnAborted: 2, AbortedSeen: 1}, tx: VerifyTxns{Committed: 2, Aborted: 1},
			kinds: []string{"aborted-seen"},
		},
		{
			name: "a record marked aborted read from a committed transaction", txns: txns(c, c, c),
			passes: []readPass{recs(t0, t1[:1], t1aborted[1:], t2)},
			want:   VerifyCounts{Read: 6, AbortedSeen: 1, Lost: 1}, tx: VerifyTxns{Committed: 3},
			kinds: []string{"aborted-seen", "lost"},
		},
		{
			name: "a committed record lost", txns: txns(c, a, c), passes: []readPass{recs(t0, t2[:1])},
			// The read ends at partition 1 offset 1; offset 4 is above it
			// but the read is complete.
			want: VerifyCounts{Read: 3, TxnAborted: 2, Lost: 1}, tx: VerifyTxns{Committed: 2, Aborted: 1, AbortedDeliberately: 1},
			kinds: []string{"lost"},
		},
		{
			name: "a committed record duplicated", txns: txns(c, c, c),
			passes: []readPass{recs(t0, t1, t2, []readRecord{txnRead(0, 6, 4, 0)})},
			want:   VerifyCounts{Read: 7, Duplicated: 1}, tx: VerifyTxns{Committed: 3},
			kinds: []string{"duplicated"},
		},
		{
			name: "unknown outcome, read whole", txns: txns(c, u, c), passes: []readPass{recs(t0, t1, t2)},
			want: VerifyCounts{Read: 6, TxnUnknown: 2}, tx: VerifyTxns{Committed: 2, Unknown: 1},
		},
		{
			name: "unknown outcome, not read", txns: txns(c, u, c), passes: []readPass{recs(t0, t2)},
			want: VerifyCounts{Read: 4, TxnUnknown: 2}, tx: VerifyTxns{Committed: 2, Unknown: 1},
		},
		{
			name: "unknown outcome, read in part", txns: txns(c, u, c), passes: []readPass{recs(t0, t1[1:], t2)},
			want: VerifyCounts{Read: 5, TxnUnknown: 2, Partial: 1}, tx: VerifyTxns{Committed: 2, Unknown: 1, Partial: 1},
			kinds: []string{"partial"},
		},
		{
			name: "unknown outcome, the rest beyond an incomplete read", txns: txns(c, u, c),
			passes: func() []readPass {
				p := recs(t0, t1[1:], t2)
				p.parts[0] = partRead{end: 1} // partition 0 read to offset 1 only
				return []readPass{p}
			}(),
			want: VerifyCounts{Read: 5, TxnUnknown: 2, Unverified: 1}, tx: VerifyTxns{Committed: 2, Unknown: 1, Partial: 1},
			kinds: []string{"unverified"},
		},
		{
			name: "reordered within a partition", txns: txns(c, c, c),
			passes: []readPass{recs(t0, []readRecord{txnRead(0, 2, 4, 0), txnRead(1, 2, 3, 0), txnRead(0, 4, 2, 0), txnRead(1, 4, 5, 0)})},
			want:   VerifyCounts{Read: 6, Reordered: 1, OffsetMismatch: 2}, tx: VerifyTxns{Committed: 3},
			kinds: []string{"reordered", "offset-mismatch", "offset-mismatch"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := check(checkInput{partitions: 2, sent: [][]sentRecord{sent}, passes: tc.passes, maxFindings: 10,
				transactional: true, txns: [][]sentTxn{tc.txns}})
			want := tc.want
			want.Sent, want.Acked = int64(len(sent)), int64(len(sent))
			want.Inconsistent = want.OffsetMismatch + want.Misplaced + want.Conflicting + want.Vanished
			if out.totals != want {
				t.Errorf("totals\n got %+v\nwant %+v", out.totals, want)
			}
			if out.txns != tc.tx {
				t.Errorf("transactions %+v, want %+v", out.txns, tc.tx)
			}
			var kinds []string
			for _, f := range out.findings {
				kinds = append(kinds, f.Kind)
			}
			if !slices.Equal(kinds, tc.kinds) {
				t.Errorf("findings %v, want kinds %v", out.findings, tc.kinds)
			}
			var sum VerifyCounts
			for _, p := range out.parts {
				sum.add(p.VerifyCounts)
			}
			if sum != out.totals {
				t.Errorf("partitions sum to %+v, totals are %+v", sum, out.totals)
			}
		})
	}
}

func TestCheckTxnOf(t *testing.T) {
	c := &checker{in: checkInput{transactional: true, txns: [][]sentTxn{{{first: 0, n: 3}, {first: 3, n: 1}, {first: 10, n: 2}}}}}
	for seq, want := range map[uint64]int{0: 0, 2: 0, 3: 1, 4: -1, 9: -1, 10: 2, 11: 2, 12: -1} {
		if _, got := c.txnOf(recordID{0, seq}); got != want {
			t.Errorf("seq %d in transaction %d, want %d", seq, got, want)
		}
	}
	if tx, _ := c.txnOf(recordID{1, 0}); tx != nil {
		t.Errorf("an unknown producer's record in transaction %+v", tx)
	}
}
