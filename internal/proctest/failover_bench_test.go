package proctest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkFailover measures, per iteration, the time from kill -9 of the
// broker leading the most partitions (6 partitions, RF=3, acks=all load)
// until Metadata on the other brokers shows a live leader for every
// partition (failover-ms) and until every partition acknowledged new
// records (resume-ms); the killed broker then restarts and the leaders
// rebalance before the next iteration. Run with -benchtime 5x; the medians
// are reported.
func BenchmarkFailover(b *testing.B) {
	const topic, partitions = "failover", 6
	c := newCluster(b, 3, "--leader-balance-cooldown", "2s")
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	c.waitReady(60*time.Second, 1, 2, 3)
	runCLI(b, "topic", "create", "--brokers", strings.Join(c.kafkaAddrs(), ","), "-p", "6", "-r", "3", topic)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	acks := produceNumbered(ctx, b, c.kafkaAddrs(), topic, partitions, false)
	adm := admin(b, c.kafkaAddrs())
	pref, err := preferredLeaders(ctx, adm, topic)
	if err != nil {
		b.Fatal(err)
	}
	var failovers, resumes []time.Duration
	b.ResetTimer()
	for range b.N {
		waitFor(b, 60*time.Second, "leaders on the preferred replicas", func() bool {
			ls, err := leaders(ctx, adm, topic)
			return err == nil && slices.Equal(sortedLeaders(ls), sortedLeaders(pref))
		})
		before, _ := leaders(ctx, adm, topic)
		victim := mostLeader(before)
		others := admin(b, c.kafkaAddrs(otherIDs(victim)...))
		var counts [partitions]int
		for p := range int32(partitions) {
			counts[p] = acks.count(p)
		}
		killed := time.Now()
		c.kill(int(victim))
		waitFor(b, 30*time.Second, "every partition has a live leader", func() bool {
			ls, err := leaders(ctx, others, topic)
			if err != nil || len(ls) != partitions {
				return false
			}
			for _, l := range ls {
				if l == victim || l < 0 {
					return false
				}
			}
			return true
		})
		failovers = append(failovers, time.Since(killed))
		waitFor(b, 30*time.Second, "produce resumes", func() bool {
			for p := range int32(partitions) {
				if acks.count(p) <= counts[p]+20 {
					return false
				}
			}
			return true
		})
		resumes = append(resumes, time.Since(killed))
		c.start(int(victim))
		c.waitReady(60*time.Second, int(victim))
	}
	b.StopTimer()
	b.ReportMetric(float64(median(failovers).Milliseconds()), "failover-ms")
	b.ReportMetric(float64(median(resumes).Milliseconds()), "resume-ms")
	b.Logf("failovers %v, produce resumed %v", failovers, resumes)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
