package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteVerifyJSON writes r as one JSON object followed by a newline, with
// "ok" and "problems" first.
func WriteVerifyJSON(w io.Writer, r VerifyResult) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode verify result: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write verify result: %w", err)
	}
	return nil
}

// WriteVerifyText writes r as a human-readable report: the verdict, the
// totals, one table row per partition, findings, errors and the settings.
func WriteVerifyText(w io.Writer, r VerifyResult) error {
	var b strings.Builder
	t := r.Totals
	fmt.Fprintf(&b, "verify: %s records sent, %s acknowledged, %s failed, %s unknown in %s; read back %d times in %s",
		commas(t.Sent), commas(t.Acked), commas(t.Failed), commas(t.Unknown), roundDuration(r.Load),
		r.ReadPasses, roundDuration(r.ReadBack))
	if r.Interrupted {
		b.WriteString(" [interrupted]")
	}
	b.WriteByte('\n')
	if problems := r.Problems(); len(problems) > 0 {
		fmt.Fprintf(&b, "result: FAILED: %s\n", strings.Join(problems, "; "))
	} else if r.Transactional {
		b.WriteString("result: OK: every record of a committed transaction was read back once, in order, at its offset, intact; " +
			"no record of an aborted transaction was read; every transaction of unknown outcome was read whole or not at all\n")
	} else {
		b.WriteString("result: OK: every acknowledged record was read back once, in order, at its offset, intact\n")
	}
	allowed := ""
	if !r.Idempotent {
		allowed = " (allowed: producers not idempotent)"
	}
	fmt.Fprintf(&b, "checks: lost %s, unverified %s, duplicated %s, reordered %s%s, inconsistent %s (offset mismatch %s, misplaced %s, conflicting %s, vanished %s), corrupt %s\n",
		commas(t.Lost), commas(t.Unverified), commas(t.Duplicated), commas(t.Reordered), allowed,
		commas(t.Inconsistent), commas(t.OffsetMismatch), commas(t.Misplaced), commas(t.Conflicting), commas(t.Vanished),
		commas(t.Corrupt))
	if r.Transactional {
		x := r.Transactions
		fmt.Fprintf(&b, "transactions: %s committed, %s aborted (%s on purpose), %s unknown outcome (%s read in part); "+
			"read_committed read %s records of aborted transactions, %s records missing from partly read ones\n",
			commas(x.Committed), commas(x.Aborted), commas(x.AbortedDeliberately), commas(x.Unknown), commas(x.Partial),
			commas(t.AbortedSeen), commas(t.Partial))
		fmt.Fprintf(&b, "transaction records: %s in aborted transactions (must not be read), %s in transactions of unknown outcome (all or none)\n",
			commas(t.TxnAborted), commas(t.TxnUnknown))
	}
	fmt.Fprintf(&b, "read: %s records of this run (%s not acknowledged, allowed), %s of other writers\n",
		commas(t.Read), commas(t.UnackedPresent), commas(t.Foreign))
	fmt.Fprintf(&b, "longest write stall: %s", fmtStall(r.LongestStall))
	for _, p := range r.Partitions {
		if p.LongestStall == r.LongestStall && p.LongestStall > 0 {
			fmt.Fprintf(&b, " (partition %d, from %.1fs into the load)", p.Partition, p.StallStart.Seconds())
			break
		}
	}
	b.WriteByte('\n')

	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', tabwriter.AlignRight)
	// Transactional runs add two columns after corrupt.
	txnCols := func(c VerifyCounts) string {
		if !r.Transactional {
			return ""
		}
		return commas(c.AbortedSeen) + "\t" + commas(c.Partial) + "\t"
	}
	txnHead := ""
	if r.Transactional {
		txnHead = "abortseen\tpartial\t"
	}
	fmt.Fprintln(tw, "partition\tsent\tacked\tfailed\tunknown\tlost\tdup\treorder\tincons\tcorrupt\t"+txnHead+"unacked\tstall\tat\toffsets\tleaders\t")
	for _, p := range r.Partitions {
		offsets := strconv.FormatInt(p.StartOffset, 10) + "-" + strconv.FormatInt(p.EndOffset, 10)
		if !p.Complete {
			offsets += " (incomplete)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s%s\t%s\t%.1fs\t%s\t%s\t\n",
			p.Partition, commas(p.Sent), commas(p.Acked), commas(p.Failed), commas(p.Unknown),
			commas(p.Lost), commas(p.Duplicated), commas(p.Reordered), commas(p.Inconsistent),
			commas(p.Corrupt), txnCols(p.VerifyCounts), commas(p.UnackedPresent), fmtStall(p.LongestStall), p.StallStart.Seconds(),
			offsets, fmtLeaders(p.Leaders))
	}
	fmt.Fprintf(tw, "total\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s%s\t%s\t\t\t\t\n",
		commas(t.Sent), commas(t.Acked), commas(t.Failed), commas(t.Unknown), commas(t.Lost),
		commas(t.Duplicated), commas(t.Reordered), commas(t.Inconsistent), commas(t.Corrupt),
		txnCols(t), commas(t.UnackedPresent), fmtStall(r.LongestStall))
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write verify report: %w", err)
	}
	for _, line := range strings.SplitAfter(table.String(), "\n") {
		if line != "" {
			b.WriteString(strings.TrimRight(line, " \n"))
			b.WriteByte('\n')
		}
	}

	l := r.Latency
	if l.Count > 0 {
		fmt.Fprintf(&b, "latency (send to ack, ms): p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (n=%s)\n",
			fmtMs(l.P50), fmtMs(l.P90), fmtMs(l.P99), fmtMs(l.P999), fmtMs(l.Max), commas(l.Count))
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "finding: %s: partition %d offset %d producer %d seq %d: %s\n",
			f.Kind, f.Partition, f.Offset, f.Producer, f.Seq, f.Detail)
	}
	if n := t.Lost + t.Unverified + t.Duplicated + t.Reordered + t.Inconsistent + t.Corrupt + t.AbortedSeen + t.Partial; n > int64(len(r.Findings)) && len(r.Findings) > 0 {
		fmt.Fprintf(&b, "finding: ... %s more not listed\n", commas(n-int64(len(r.Findings))))
	}
	for _, e := range r.ProduceErrors {
		fmt.Fprintf(&b, "produce error: %s x %s\n", commas(e.Count), e.Error)
	}
	for _, e := range r.ReadErrors {
		fmt.Fprintf(&b, "read error: %s x %s\n", commas(e.Count), e.Error)
	}
	keys := make([]string, 0, len(r.Settings))
	for k := range r.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(&b, "settings: run=%s", r.Run)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, r.Settings[k])
	}
	b.WriteByte('\n')
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write verify report: %w", err)
	}
	return nil
}

// fmtStall prints a stall in milliseconds below a second and in seconds
// above.
func fmtStall(d time.Duration) string {
	if d < time.Second {
		return fmtMs(float64(d)/float64(time.Millisecond)) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
}

// fmtLeaders prints the leader read from in each pass, "-" where unknown.
func fmtLeaders(ls []int32) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = "-"
		if l >= 0 {
			s[i] = strconv.Itoa(int(l))
		}
	}
	return strings.Join(s, ",")
}
