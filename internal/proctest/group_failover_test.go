package proctest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupCoordinatorKill runs a kgo group consumer (explicit commits after
// every poll) on a 6-partition RF=3 topic of a 3-broker cluster while an
// idempotent acks=all producer writes to it, then kill -9s the group's
// coordinator mid-stream. It checks that another broker becomes the
// coordinator, that the committed offsets read before the kill (FetchOffsets)
// are not lower afterwards, that the consumer commits through the new
// coordinator and reads every acknowledged record, and that records are
// delivered twice only at offsets at or after the last commit read before
// the kill; finally that the committed offsets reach the end of the topic.
// The consumer uses the classic protocol, and (with CHRONIK_TEST_ALL=1, for
// the make test budget) KIP-848's with the server-side assignor, where the
// group must also keep its member: the same member id, not fenced.
func TestGroupCoordinatorKill(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []kgo.Opt
		all  bool // only with CHRONIK_TEST_ALL=1
	}{
		{"classic", nil, false},
		{"848", []kgo.Opt{kgo.ServerSideBalancer(), kgo.Balancers(kgo.CooperativeStickyBalancer())}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.all && os.Getenv("CHRONIK_TEST_ALL") == "" {
				t.Skip("the KIP-848 variant runs with CHRONIK_TEST_ALL=1")
			}
			testGroupCoordinatorKill(t, tc.name == "848", tc.opts...)
		})
	}
}

func testGroupCoordinatorKill(t *testing.T, kip848 bool, opts ...kgo.Opt) {
	const topic, group, partitions = "gfail", "gfail-group", 6
	start := time.Now()
	c := newCluster(t, 3)
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	c.waitReady(60*time.Second, 1, 2, 3)
	runCLI(t, "topic", "create", "--brokers", strings.Join(c.kafkaAddrs(), ","), "-p", fmt.Sprint(partitions), "-r", "3", topic)

	// Producer: batches of one record per partition, ProduceSync, until
	// stopProduce; acked holds every acknowledged value.
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaAddrs()...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RecordDeliveryTimeout(30*time.Second),
		kgo.RetryTimeout(30*time.Second), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	var (
		ackMu    sync.Mutex
		acked    = map[string]bool{}
		ackCount [partitions]int
		prodFail atomic.Int64
	)
	stopProduce := make(chan struct{})
	prodDone := make(chan struct{})
	go func() {
		defer close(prodDone)
		for seq := 0; ; seq++ {
			select {
			case <-stopProduce:
				return
			default:
			}
			rs := make([]*kgo.Record, 0, partitions)
			for p := range int32(partitions) {
				rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "%d-%d", p, seq)})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			res := prod.ProduceSync(ctx, rs...)
			cancel()
			ackMu.Lock()
			for _, r := range res {
				if r.Err != nil {
					prodFail.Add(1)
					continue
				}
				acked[string(r.Record.Value)] = true
				ackCount[r.Record.Partition]++
			}
			ackMu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	stopOnce := sync.OnceFunc(func() { close(stopProduce); <-prodDone })
	t.Cleanup(stopOnce)
	ackCounts := func() [partitions]int {
		ackMu.Lock()
		defer ackMu.Unlock()
		return ackCount
	}
	waitFor(t, 30*time.Second, "every partition acknowledges 50 records", func() bool {
		for _, n := range ackCounts() {
			if n < 50 {
				return false
			}
		}
		return true
	})

	// Consumer: group member, commits what it polled after every poll.
	cons, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.kafkaAddrs()...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(500 * time.Millisecond), kgo.RetryTimeout(30 * time.Second), kgo.MetadataMinAge(100 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	var (
		seenMu     sync.Mutex
		seen       = map[int32]map[int64]int{} // partition → offset → deliveries
		seenValues = map[string]bool{}
		badValues  []string
	)
	var lastCommitOK atomic.Int64 // unix nanos of the last successful commit
	consCtx, consCancel := context.WithCancel(context.Background())
	consDone := make(chan struct{})
	go func() {
		defer close(consDone)
		for consCtx.Err() == nil {
			fs := cons.PollFetches(consCtx)
			fs.EachError(func(tp string, p int32, err error) {
				if !errors.Is(err, context.Canceled) {
					t.Logf("consumer: fetch %s/%d: %v", tp, p, err)
				}
			})
			seenMu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				if seen[r.Partition] == nil {
					seen[r.Partition] = map[int64]int{}
				}
				seen[r.Partition][r.Offset]++
				v := string(r.Value)
				if !strings.HasPrefix(v, fmt.Sprintf("%d-", r.Partition)) {
					badValues = append(badValues, fmt.Sprintf("%d@%d=%q", r.Partition, r.Offset, v))
				}
				seenValues[v] = true
			})
			seenMu.Unlock()
			if consCtx.Err() != nil {
				return
			}
			ctx, cancel := context.WithTimeout(consCtx, 15*time.Second)
			err := cons.CommitUncommittedOffsets(ctx)
			cancel()
			if err == nil {
				lastCommitOK.Store(time.Now().UnixNano())
			} else if consCtx.Err() == nil {
				t.Logf("consumer: commit: %v", err)
			}
		}
	}()
	t.Cleanup(func() {
		consCancel()
		<-consDone
		cons.Close()
	})

	adm := admin(t, c.kafkaAddrs())
	fetchCommitted := func(a *kadm.Client) (map[int32]int64, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := a.FetchOffsets(ctx, group)
		if err != nil {
			return nil, err
		}
		if err := resp.Error(); err != nil {
			return nil, err
		}
		out := map[int32]int64{}
		for p, o := range resp[topic] {
			out[p] = o.At
		}
		return out, nil
	}
	// Mid-stream: every partition has a commit past its first records.
	waitFor(t, 30*time.Second, "the group commits offsets on every partition", func() bool {
		off, err := fetchCommitted(adm)
		if err != nil || len(off) != partitions {
			return false
		}
		for _, o := range off {
			if o < 10 {
				return false
			}
		}
		return true
	})

	var victim int32 = -1
	waitFor(t, 30*time.Second, "FindCoordinator answers", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, ok := adm.FindGroupCoordinators(ctx, group)[group]
		if !ok || r.Err != nil || r.NodeID < 1 || r.NodeID > 3 {
			return false
		}
		victim = r.NodeID
		return true
	})
	before, err := fetchCommitted(adm)
	if err != nil {
		t.Fatalf("FetchOffsets before the kill: %v", err)
	}
	t.Logf("coordinator is broker %d; committed before the kill: %v", victim, before)
	// members describes a KIP-848 group: its member ids and epochs.
	members := func(a *kadm.Client) map[string]int32 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d, err := a.DescribeConsumerGroups(ctx, group)
		if err != nil || d[group].Err != nil {
			return nil
		}
		out := map[string]int32{}
		for _, m := range d[group].Members {
			out[m.MemberID] = m.MemberEpoch
		}
		return out
	}
	var membersBefore map[string]int32
	if kip848 {
		if membersBefore = members(adm); len(membersBefore) != 1 {
			t.Fatalf("ConsumerGroupDescribe before the kill: %v, want the one KIP-848 member", membersBefore)
		}
	}
	killed := time.Now()
	c.kill(int(victim))

	others := admin(t, c.kafkaAddrs(otherIDs(victim)...))
	var coord int32
	waitFor(t, 30*time.Second, "a live broker becomes the coordinator", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, ok := others.FindGroupCoordinators(ctx, group)[group]
		if !ok || r.Err != nil || r.NodeID == victim || r.NodeID < 1 || r.NodeID > 3 {
			return false
		}
		coord = r.NodeID
		return true
	})
	var after map[int32]int64
	waitFor(t, 30*time.Second, "FetchOffsets answers on the new coordinator", func() bool {
		after, err = fetchCommitted(others)
		return err == nil && len(after) == partitions
	})
	t.Logf("new coordinator broker %d after %v; committed after the kill: %v", coord, time.Since(killed), after)
	if kip848 {
		if got := members(others); fmt.Sprint(got) != fmt.Sprint(membersBefore) {
			t.Errorf("KIP-848 members %v after the kill, %v before: the member was fenced or its epoch moved", got, membersBefore)
		}
	}
	for p := range int32(partitions) {
		if after[p] < before[p] {
			t.Errorf("partition %d: committed offset %d after the kill, %d before: commit lost", p, after[p], before[p])
		}
	}

	// Produce goes on after the kill, then stops.
	base := ackCounts()
	waitFor(t, 30*time.Second, "produce resumes on every partition", func() bool {
		n := ackCounts()
		for p := range partitions {
			if n[p] < base[p]+50 {
				return false
			}
		}
		return true
	})
	waitFor(t, 30*time.Second, "the consumer commits after the kill", func() bool {
		return lastCommitOK.Load() > killed.UnixNano()
	})
	stopOnce()

	// The consumer reaches the end of every partition and commits it.
	var ends map[int32]int64
	waitFor(t, 30*time.Second, "ListEndOffsets", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		lo, err := others.ListEndOffsets(ctx, topic)
		if err != nil || lo.Error() != nil {
			return false
		}
		ends = map[int32]int64{}
		for p, o := range lo[topic] {
			ends[p] = o.Offset
		}
		return len(ends) == partitions
	})
	waitFor(t, 30*time.Second, "the consumer reads every partition to its end", func() bool {
		seenMu.Lock()
		defer seenMu.Unlock()
		for p, end := range ends {
			for o := before[p]; o < end; o++ {
				if seen[p][o] == 0 {
					return false
				}
			}
		}
		return true
	})
	var final map[int32]int64
	waitFor(t, 30*time.Second, "committed offsets reach the end offsets", func() bool {
		final, err = fetchCommitted(others)
		if err != nil {
			return false
		}
		for p, end := range ends {
			if final[p] != end {
				return false
			}
		}
		return true
	})
	consCancel()
	<-consDone

	seenMu.Lock()
	defer seenMu.Unlock()
	if len(badValues) > 0 {
		t.Errorf("records with unexpected values: %v", badValues)
	}
	ackMu.Lock()
	missing := 0
	for v := range acked {
		if !seenValues[v] {
			missing++
			if missing <= 10 {
				t.Errorf("acknowledged record %q never consumed", v)
			}
		}
	}
	nAcked := len(acked)
	ackMu.Unlock()
	if missing > 0 {
		t.Errorf("%d of %d acknowledged records never consumed", missing, nAcked)
	}
	dups := 0
	for p := range int32(partitions) {
		for o := int64(0); o < ends[p]; o++ {
			n := seen[p][o]
			if n == 0 {
				t.Errorf("partition %d offset %d never consumed", p, o)
				continue
			}
			if n > 1 {
				dups += n - 1
				if o < before[p] {
					t.Errorf("partition %d offset %d delivered %d times, below the offset %d committed before the kill", p, o, n, before[p])
				}
			}
		}
	}
	t.Logf("%d acknowledged (%d produce failures), end offsets %v, %d redelivered, committed at the end %v; total %v",
		nAcked, prodFail.Load(), ends, dups, final, time.Since(start))
}
