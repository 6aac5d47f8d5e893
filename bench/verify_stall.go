package bench

import (
	"slices"
	"time"
)

// stall is one partition's longest write stall.
type stall struct {
	dur   time.Duration
	start int64 // UnixNano
}

// longestStalls returns, per partition, the longest stretch of time during
// which records for it were outstanding and none was acknowledged: how long
// the partition refused writes, or did not answer them, while the producers
// were trying.
//
// A stall starts when a record is sent while nothing for the partition is
// outstanding, or at an acknowledgement after which records are still
// outstanding; it ends at the next acknowledgement. A failure does not end
// it (nothing was written), and records never answered keep it running until
// end, when the producers stopped waiting. On a healthy partition under a
// steady load the longest stall is about the slowest acknowledgement.
func longestStalls(sent [][]sentRecord, partitions int32, end int64) []stall {
	type event struct {
		at   int64
		send bool // a send; otherwise an answer
		ack  bool // the answer was an acknowledgement
	}
	events := make([][]event, partitions)
	for _, recs := range sent {
		for _, s := range recs {
			if s.partition < 0 || s.partition >= partitions {
				continue
			}
			events[s.partition] = append(events[s.partition], event{at: s.sentAt, send: true})
			if s.doneAt != 0 {
				events[s.partition] = append(events[s.partition], event{at: s.doneAt, ack: s.outcome == outcomeAcked})
			}
		}
	}
	out := make([]stall, partitions)
	for p, evs := range events {
		// Sends first among equal times, so nothing is answered before it
		// is outstanding.
		slices.SortFunc(evs, func(a, b event) int {
			if a.at != b.at {
				if a.at < b.at {
					return -1
				}
				return 1
			}
			if a.send == b.send {
				return 0
			}
			if a.send {
				return -1
			}
			return 1
		})
		var best stall
		note := func(from, to int64) {
			if d := time.Duration(to - from); d > best.dur {
				best = stall{dur: d, start: from}
			}
		}
		outstanding := 0
		stalling := false
		var since int64
		for _, e := range evs {
			if e.send {
				if !stalling {
					stalling, since = true, e.at
				}
				outstanding++
				continue
			}
			outstanding--
			note(since, e.at)
			if e.ack {
				if outstanding > 0 {
					since = e.at
				} else {
					stalling = false
				}
			}
		}
		if stalling && outstanding > 0 {
			note(since, end)
		}
		out[p] = best
	}
	return out
}
