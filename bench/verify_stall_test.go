package bench

import (
	"testing"
	"time"
)

func TestLongestStalls(t *testing.T) {
	ms := int64(time.Millisecond)
	// rec is a record sent at sent ms and answered at done ms (0: never).
	rec := func(p int32, sent, done int64, o outcome) sentRecord {
		s := sentRecord{partition: p, outcome: o, sentAt: sent * ms}
		if done != 0 {
			s.doneAt = done * ms
		}
		return s
	}
	var steady, outage, failing, hanging []sentRecord
	for i := int64(0); i < 100; i++ {
		// Every 10 ms, acknowledged 3 ms later.
		steady = append(steady, rec(0, 10+i*10, 13+i*10, outcomeAcked))
		// The same, but nothing is acknowledged from 300 to 805 ms.
		done := 13 + i*10
		if s := 10 + i*10; s >= 300 {
			done = max(done, 805)
		}
		outage = append(outage, rec(0, 10+i*10, done, outcomeAcked))
		// Records sent from 300 to 800 ms fail at once: the partition
		// accepts nothing for 500 ms even though nothing is outstanding
		// for long.
		o := outcomeAcked
		if s := 10 + i*10; s >= 300 && s < 800 {
			o = outcomeFailed
		}
		failing = append(failing, rec(0, 10+i*10, 11+i*10, o))
		// Records sent after 500 ms are never answered.
		if s := 10 + i*10; s > 500 {
			hanging = append(hanging, rec(0, s, 0, outcomePending))
		} else {
			hanging = append(hanging, rec(0, s, s+3, outcomeAcked))
		}
	}
	for _, tc := range []struct {
		name      string
		sent      []sentRecord
		end       int64 // ms
		want      time.Duration
		wantStart time.Duration
	}{
		{"steady", steady, 2000, 3 * time.Millisecond, 10 * time.Millisecond},
		{"outage", outage, 2000, 505 * time.Millisecond, 300 * time.Millisecond},
		// From the first failed send to the first acknowledgement after.
		{"fast failures", failing, 2000, 501 * time.Millisecond, 300 * time.Millisecond},
		{"never answered until the end", hanging, 2000, 1490 * time.Millisecond, 510 * time.Millisecond},
		{"nothing sent", nil, 2000, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := longestStalls([][]sentRecord{tc.sent}, 2, tc.end*ms)
			if len(got) != 2 {
				t.Fatalf("%d stalls for 2 partitions", len(got))
			}
			if got[0].dur != tc.want || time.Duration(got[0].start) != tc.wantStart && tc.want > 0 {
				t.Errorf("stall %s from %s, want %s from %s", got[0].dur, time.Duration(got[0].start), tc.want, tc.wantStart)
			}
			if got[1].dur != 0 {
				t.Errorf("partition 1 (nothing sent) stalled %s", got[1].dur)
			}
		})
	}
}
