package bench

import (
	"cmp"
	"fmt"
	"slices"
)

// The checking core: it compares what the producers were told (the sent
// records and their outcomes) with what the read-back passes found, and does
// no I/O, so tests can feed it any history.

// outcome is what a producer learned about one record.
type outcome uint8

const (
	// outcomePending: no answer by the time the client gave up (counted as
	// unknown).
	outcomePending outcome = iota
	// outcomeAcked: acknowledged, at sentRecord.offset.
	outcomeAcked
	// outcomeFailed: refused with a non-retriable error.
	outcomeFailed
	// outcomeUnknown: the client gave up without an answer (timeout,
	// retries exhausted, client closed).
	outcomeUnknown
)

// sentRecord is a producer's account of one record, indexed by its sequence
// number.
type sentRecord struct {
	partition int32
	outcome   outcome
	offset    int64 // the acknowledged offset
	sentAt    int64 // UnixNano, just before the client's Produce call
	doneAt    int64 // UnixNano of the answer; 0 without one
}

// txnOutcome is what a producer learned about one of its transactions.
type txnOutcome uint8

const (
	// txnAborted: the producer never asked to commit it (it aborted on
	// purpose, or after a record of it failed, or never ended it), so no
	// record of it may ever be read with read_committed.
	txnAborted txnOutcome = iota
	// txnCommitted: the commit was acknowledged; every record of it must
	// be read exactly once.
	txnCommitted
	// txnUnknown: the commit was asked for but not acknowledged (an
	// error, a timeout, a broker killed mid-commit): the transaction may
	// be committed or aborted, but either entirely or not at all.
	txnUnknown
)

// sentTxn is a producer's account of one transaction: its records are the
// producer's sequence numbers first to first+n-1.
type sentTxn struct {
	first      uint64
	n          uint64
	outcome    txnOutcome
	deliberate bool // aborted on purpose (AbortEvery)
}

// readRecord is one record read back.
type readRecord struct {
	partition int32
	offset    int64
	fp        uint64 // fingerprint of key and value
	kind      recordKind
	flags     recordFlags // as the key says
	id        recordID    // as the key names it (kindCorrupt: as claimed)
	target    int32       // the partition the key names
}

// partRead is how far one pass read one partition.
type partRead struct {
	start    int64 // first offset asked for
	end      int64 // the high watermark read up to, or where the read stopped
	complete bool  // read up to the high watermark
	leader   int32 // the partition's leader when the pass began, -1 unknown
}

// readPass is one read of the whole topic.
type readPass struct {
	records []readRecord // in the order read
	parts   map[int32]partRead
}

// checkInput is everything the checker looks at.
type checkInput struct {
	partitions  int32
	sent        [][]sentRecord // by producer, then by sequence number
	passes      []readPass
	maxFindings int
	// transactional is set when the producers were transactional; txns
	// then holds each producer's transactions in sequence order, covering
	// all its records.
	transactional bool
	txns          [][]sentTxn
}

// checkOutput is the checker's verdict, before timings and settings are
// added.
type checkOutput struct {
	parts    []VerifyPartition
	totals   VerifyCounts
	txns     VerifyTxns // zero unless transactional
	findings []Finding
}

type checker struct {
	in       checkInput
	parts    []VerifyPartition
	findings []Finding
	// byOffset[pass][partition] holds the records a pass read in a
	// partition, one per offset, sorted by offset.
	byOffset [][]partIndex
}

// check runs every check of the verifier.
func check(in checkInput) checkOutput {
	c := &checker{in: in, parts: make([]VerifyPartition, in.partitions)}
	for i := range c.parts {
		p := &c.parts[i]
		p.Partition = int32(i)
		p.Complete = len(in.passes) > 0
		for _, pass := range in.passes {
			r, ok := pass.parts[int32(i)]
			if !ok {
				r = partRead{leader: -1}
			}
			p.StartOffset, p.EndOffset = r.start, r.end
			p.Complete = p.Complete && r.complete
			p.Leaders = append(p.Leaders, r.leader)
		}
	}
	c.countSent()
	c.index()
	c.comparePasses()
	var out checkOutput
	if len(in.passes) > 0 {
		out.txns.Partial = c.checkLastPass()
	}
	if in.transactional {
		for _, txns := range in.txns {
			for _, t := range txns {
				switch t.outcome {
				case txnCommitted:
					out.txns.Committed++
				case txnUnknown:
					out.txns.Unknown++
				default:
					out.txns.Aborted++
					if t.deliberate {
						out.txns.AbortedDeliberately++
					}
				}
			}
		}
	}
	for i := range c.parts {
		cnt := &c.parts[i].VerifyCounts
		cnt.Inconsistent = cnt.OffsetMismatch + cnt.Misplaced + cnt.Conflicting + cnt.Vanished
		out.totals.add(*cnt)
	}
	out.parts, out.findings = c.parts, c.findings
	return out
}

// part returns the counts of partition p, or nil for a partition the topic
// does not have (a broker that invents partitions is caught elsewhere).
func (c *checker) part(p int32) *VerifyCounts {
	if p < 0 || int(p) >= len(c.parts) {
		return nil
	}
	return &c.parts[p].VerifyCounts
}

func (c *checker) find(kind string, partition int32, offset int64, id recordID, format string, args ...any) {
	if len(c.findings) >= c.in.maxFindings {
		return
	}
	c.findings = append(c.findings, Finding{
		Kind: kind, Partition: partition, Offset: offset,
		Producer: id.producer, Seq: id.seq, Detail: fmt.Sprintf(format, args...),
	})
}

// txnOf returns the transaction record id was sent in and its index among
// its producer's transactions; nil outside transactional runs, and for a
// record no transaction claims.
func (c *checker) txnOf(id recordID) (*sentTxn, int) {
	if !c.in.transactional || int(id.producer) >= len(c.in.txns) {
		return nil, -1
	}
	txns := c.in.txns[id.producer]
	// The first transaction that starts after id.seq, minus one.
	i, _ := slices.BinarySearchFunc(txns, id.seq+1, func(t sentTxn, seq uint64) int { return cmp.Compare(t.first, seq) })
	if i--; i < 0 || id.seq >= txns[i].first+txns[i].n {
		return nil, -1
	}
	return &txns[i], i
}

// countSent accounts for every record sent, by the partition it was sent to.
func (c *checker) countSent() {
	for prod, recs := range c.in.sent {
		for seq, s := range recs {
			cnt := c.part(s.partition)
			if cnt == nil {
				continue
			}
			if t, _ := c.txnOf(recordID{uint32(prod), uint64(seq)}); t != nil {
				switch t.outcome {
				case txnAborted:
					cnt.TxnAborted++
				case txnUnknown:
					cnt.TxnUnknown++
				}
			}
			cnt.Sent++
			switch s.outcome {
			case outcomeAcked:
				cnt.Acked++
			case outcomeFailed:
				cnt.Failed++
			default:
				cnt.Unknown++
			}
		}
	}
}

// index builds byOffset. An offset read twice within one pass (the client
// re-reads after it detects data loss) keeps its last read, and counts as
// conflicting if the two reads differ.
func (c *checker) index() {
	c.byOffset = make([][]partIndex, len(c.in.passes))
	for i, pass := range c.in.passes {
		parts := make([]partIndex, len(c.parts))
		counts := make([]int, len(c.parts))
		for _, r := range pass.records {
			if c.part(r.partition) != nil {
				counts[r.partition]++
			}
		}
		for p, n := range counts {
			parts[p] = make(partIndex, 0, n)
		}
		for _, r := range pass.records {
			if c.part(r.partition) != nil {
				parts[r.partition] = append(parts[r.partition], r)
			}
		}
		for p, recs := range parts {
			// Stable: reads of one offset stay in the order they were made.
			slices.SortStableFunc(recs, func(a, b readRecord) int { return cmp.Compare(a.offset, b.offset) })
			out := recs[:0]
			for _, r := range recs {
				if n := len(out); n > 0 && out[n-1].offset == r.offset {
					if out[n-1].fp != r.fp {
						c.parts[p].Conflicting++
						c.find("conflicting", int32(p), r.offset, r.id, "pass %d read two different records at this offset", i+1)
					}
					out[n-1] = r
					continue
				}
				out = append(out, r)
			}
			parts[p] = out
		}
		c.byOffset[i] = parts
	}
}

// comparePasses checks that each pass agrees with the one before: the same
// offset holds the same record, and no offset read before is missing from a
// later pass that read past it.
func (c *checker) comparePasses() {
	for i := 1; i < len(c.byOffset); i++ {
		for p := range c.parts {
			prev, cur := c.byOffset[i-1][p], c.byOffset[i][p]
			rng := c.in.passes[i].parts[int32(p)]
			for _, was := range prev {
				off := was.offset
				now, ok := cur.at(off)
				switch {
				case ok && now.fp != was.fp:
					c.parts[p].Conflicting++
					c.find("conflicting", int32(p), off, was.id, "pass %d and pass %d read different records at this offset (%s, then %s)",
						i, i+1, describe(was), describe(now))
				case !ok && off >= rng.start && off < rng.end:
					c.parts[p].Vanished++
					c.find("vanished", int32(p), off, was.id, "read in pass %d (%s), missing from pass %d, which read offsets %d-%d",
						i, describe(was), i+1, rng.start, rng.end)
				}
			}
		}
	}
}

// checkLastPass compares the last pass with the producers' records: loss,
// duplicates, order, placement, offsets and corruption, and in a
// transactional run aborted records seen and transactions of unknown
// outcome read only in part, whose number it returns.
func (c *checker) checkLastPass() (partialTxns int64) {
	last := len(c.in.passes) - 1
	// found[producer][seq] is where a record was first found; copies
	// counts how often. Identities are dense, so slices beat a map.
	type loc struct {
		partition int32
		offset    int64
		copies    int32
	}
	found := make([][]loc, len(c.in.sent))
	for prod, recs := range c.in.sent {
		found[prod] = make([]loc, len(recs))
	}
	// txnFound[producer][txn] counts the distinct records of a
	// transaction found.
	txnFound := make([][]uint64, len(c.in.txns))
	for prod, txns := range c.in.txns {
		txnFound[prod] = make([]uint64, len(txns))
	}
	for p := range c.parts {
		cnt := &c.parts[p].VerifyCounts
		lastSeq := map[uint32]uint64{}
		for _, r := range c.byOffset[last][p] {
			off := r.offset
			switch r.kind {
			case kindForeign:
				cnt.Foreign++
				continue
			case kindCorrupt:
				cnt.Corrupt++
				c.find("corrupt", int32(p), off, r.id, "carries this run's id but its checksum does not match its contents (identity as claimed)")
				continue
			}
			s, ok := c.sentRecord(r.id)
			if !ok {
				cnt.Corrupt++
				c.find("corrupt", int32(p), off, r.id, "intact, but this run never sent a record with this producer and sequence number")
				continue
			}
			cnt.Read++
			if s.partition != int32(p) || r.target != int32(p) {
				cnt.Misplaced++
				c.find("misplaced", int32(p), off, r.id, "sent to partition %d", s.partition)
			}
			t, ti := c.txnOf(r.id)
			if r.flags&flagAbort != 0 || (t != nil && t.outcome == txnAborted) {
				cnt.AbortedSeen++
				if t == nil {
					c.find("aborted-seen", int32(p), off, r.id, "read with read_committed, but its key says its transaction was aborted on purpose")
				} else {
					why := "aborted on purpose"
					if !t.deliberate {
						why = "aborted after a record of it failed, or never committed"
					}
					c.find("aborted-seen", int32(p), off, r.id, "read with read_committed, but its transaction %d (seq %d-%d) was %s",
						ti, t.first, t.first+t.n-1, why)
				}
				continue
			}
			at := &found[r.id.producer][r.id.seq]
			if at.copies++; at.copies > 1 {
				cnt.Duplicated++
				c.find("duplicated", int32(p), off, r.id, "also at partition %d offset %d", at.partition, at.offset)
				continue
			}
			at.partition, at.offset = int32(p), off
			if t != nil {
				txnFound[r.id.producer][ti]++
			}
			if ls, ok := lastSeq[r.id.producer]; ok && r.id.seq < ls {
				cnt.Reordered++
				c.find("reordered", int32(p), off, r.id, "after sequence number %d of the same producer", ls)
			} else {
				lastSeq[r.id.producer] = r.id.seq
			}
			if s.outcome != outcomeAcked {
				cnt.UnackedPresent++
			}
		}
	}
	for prod, recs := range c.in.sent {
		for seq, s := range recs {
			cnt := c.part(s.partition)
			if s.outcome != outcomeAcked || cnt == nil {
				continue
			}
			id := recordID{uint32(prod), uint64(seq)}
			at := found[prod][seq]
			if at.copies == 0 {
				if t, _ := c.txnOf(id); c.in.transactional && (t == nil || t.outcome != txnCommitted) {
					// Not owed: aborted, or of unknown outcome (checked
					// whole below).
					continue
				}
				rng := c.in.passes[last].parts[s.partition]
				if rng.complete || s.offset < rng.end {
					cnt.Lost++
					c.find("lost", s.partition, s.offset, id, "acknowledged at this offset, not found")
				} else {
					cnt.Unverified++
					c.find("unverified", s.partition, s.offset, id, "acknowledged at this offset; the partition was read only to offset %d", rng.end)
				}
				continue
			}
			if r, ok := c.byOffset[last][s.partition].at(s.offset); !ok || r.kind != kindOurs || r.id != id {
				cnt.OffsetMismatch++
				holds := "nothing"
				if ok {
					holds = describe(r)
				}
				c.find("offset-mismatch", s.partition, s.offset, id, "acknowledged at this offset, which holds %s; found at partition %d offset %d",
					holds, at.partition, at.offset)
			}
		}
	}

	// Atomicity: a transaction of unknown outcome is read entirely or not
	// at all. Each of its records missing while others were read is
	// partial, unless its partition was not read far enough to tell.
	for prod, txns := range c.in.txns {
		for ti, t := range txns {
			if t.outcome != txnUnknown || txnFound[prod][ti] == 0 || txnFound[prod][ti] == t.n {
				continue
			}
			partialTxns++
			for seq := t.first; seq < t.first+t.n && seq < uint64(len(c.in.sent[prod])); seq++ {
				s := c.in.sent[prod][seq]
				cnt := c.part(s.partition)
				if found[prod][seq].copies > 0 || cnt == nil {
					continue
				}
				id := recordID{uint32(prod), seq}
				rng := c.in.passes[last].parts[s.partition]
				if !rng.complete && s.outcome == outcomeAcked && s.offset >= rng.end {
					cnt.Unverified++
					c.find("unverified", s.partition, s.offset, id, "in transaction %d of unknown outcome, partly read; the partition was read only to offset %d", ti, rng.end)
					continue
				}
				cnt.Partial++
				c.find("partial", s.partition, s.offset, id, "not found, but %d of the %d records of its transaction %d (seq %d-%d, commit unanswered) were: not atomic",
					txnFound[prod][ti], t.n, ti, t.first, t.first+t.n-1)
			}
		}
	}
	return partialTxns
}

func (c *checker) sentRecord(id recordID) (sentRecord, bool) {
	if int(id.producer) >= len(c.in.sent) || id.seq >= uint64(len(c.in.sent[id.producer])) {
		return sentRecord{}, false
	}
	return c.in.sent[id.producer][id.seq], true
}

// describe names a record read back, for findings.
func describe(r readRecord) string {
	switch r.kind {
	case kindOurs:
		return fmt.Sprintf("producer %d seq %d", r.id.producer, r.id.seq)
	case kindCorrupt:
		return "a corrupt record of this run"
	}
	return "a record of another writer"
}

// partIndex is what one pass read in one partition: one record per
// offset, sorted by offset.
type partIndex []readRecord

// at returns the record read at off.
func (x partIndex) at(off int64) (readRecord, bool) {
	i, ok := slices.BinarySearchFunc(x, off, func(r readRecord, o int64) int { return cmp.Compare(r.offset, o) })
	if !ok {
		return readRecord{}, false
	}
	return x[i], true
}
