package proctest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ackLog records the acknowledged sequence numbers of each partition.
type ackLog struct {
	mu    sync.Mutex
	acked map[int32][]int64
	fails atomic.Int64
}

func (a *ackLog) count(p int32) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.acked[p])
}

// produceNumbered writes records "p-seq" to every partition of topic until
// ctx ends, with acks=all, and logs what was acknowledged. Without
// idempotence it keeps one request in flight per broker, so that retries
// keep order.
func produceNumbered(ctx context.Context, t testing.TB, seeds []string, topic string, partitions int32, idempotent bool) *ackLog {
	opts := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(2 * time.Millisecond),
		kgo.RecordDeliveryTimeout(60 * time.Second), kgo.MetadataMinAge(100 * time.Millisecond)}
	if !idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(1))
	}
	if os.Getenv("CHRONIK_PROCTEST_KGO_LOG") != "" {
		opts = append(opts, kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelInfo, func() string { return time.Now().Format("15:04:05.000 ") })))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	log := &ackLog{acked: map[int32][]int64{}}
	var wg sync.WaitGroup
	for p := range partitions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem := make(chan struct{}, 64)
			for seq := int64(0); ctx.Err() == nil; seq++ {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				r := &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "%d-%d", p, seq)}
				cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
					<-sem
					if err != nil {
						log.fails.Add(1)
						return
					}
					log.mu.Lock()
					log.acked[p] = append(log.acked[p], seq)
					log.mu.Unlock()
				})
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	t.Cleanup(func() {
		wg.Wait()
		cl.Flush(context.Background())
		cl.Close()
	})
	go func() {
		<-ctx.Done()
		wg.Wait()
	}()
	return log
}

// TestKillLeaderFailover kills -9 the broker leading the most partitions of
// a 6-partition RF=3 topic under acks=all load, checks that every partition
// has a new leader within 5 s and that produce resumes, restarts the broker,
// waits for it to catch up and for leadership to return to the preferred
// leaders, then reads every partition back: each acknowledged record once
// and in order, and every replica's checksum equal.
//
// A producer without idempotence can write a batch twice when leadership
// moves while the batch is in flight: the leader dies, or hands over, after
// the batch is replicated but before it answers, and the client retries on
// the new leader (Kafka behaves the same). That case allows one re-written
// batch per partition per leadership move; the idempotent producer must see
// every record exactly once.
func TestKillLeaderFailover(t *testing.T) {
	if !fullFaults() {
		// make test: its own cluster, beside the other process tests that
		// run in parallel (make test-faults runs it alone, for the figures).
		t.Parallel()
	}
	for _, tc := range []struct {
		name       string
		idempotent bool
		rewrites   int // re-written batches allowed per partition
	}{
		{"acks=all", false, 2}, // the kill and the move back
		{"acks=all,idempotent", true, 0},
	} {
		if tc.idempotent && !fullFaults() {
			// make test covers an idempotent producer through a leader
			// kill in TestFaults (kill-random-broker, kill-meta-leader).
			continue
		}
		t.Run(tc.name, func(t *testing.T) { testKillLeaderFailover(t, tc.idempotent, tc.rewrites) })
	}
}

func testKillLeaderFailover(t *testing.T, idempotent bool, rewrites int) {
	const topic, partitions = "failover", 6
	c := newCluster(t, 3, "--leader-balance-cooldown", "2s")
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	c.waitReady(60*time.Second, 1, 2, 3)
	runCLI(t, "topic", "create", "--brokers", strings.Join(c.kafkaAddrs(), ","), "-p", strconv.Itoa(partitions), "-r", "3", topic)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	acks := produceNumbered(ctx, t, c.kafkaAddrs(), topic, partitions, idempotent)
	waitFor(t, 20*time.Second, "every partition acknowledges records", func() bool {
		for p := range int32(partitions) {
			if acks.count(p) < 50 {
				return false
			}
		}
		return true
	})

	adm := admin(t, c.kafkaAddrs())
	preferred, err := preferredLeaders(ctx, adm, topic)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "leaders on the preferred replicas", func() bool {
		ls, err := leaders(ctx, adm, topic)
		return err == nil && slices.Equal(sortedLeaders(ls), sortedLeaders(preferred))
	})
	before, err := leaders(ctx, adm, topic)
	if err != nil {
		t.Fatal(err)
	}
	victim := mostLeader(before)
	t.Logf("leaders before: %v; killing broker %d", before, victim)

	var counts [partitions]int
	for p := range int32(partitions) {
		counts[p] = acks.count(p)
	}
	others := admin(t, c.kafkaAddrs(otherIDs(victim)...))
	killed := time.Now()
	c.kill(int(victim))
	var failover time.Duration
	waitFor(t, 5*time.Second, "every partition has a live leader", func() bool {
		ls, err := leaders(ctx, others, topic)
		if err != nil || len(ls) != partitions {
			return false
		}
		for _, l := range ls {
			if l == victim || l < 0 {
				return false
			}
		}
		failover = time.Since(killed)
		return true
	})
	for p := range int32(partitions) {
		counts[p] = acks.count(p)
	}
	waitFor(t, 15*time.Second, "produce resumes on every partition", func() bool {
		for p := range int32(partitions) {
			if acks.count(p) <= counts[p]+10 {
				return false
			}
		}
		return true
	})
	t.Logf("failover: new leaders after %v, produce resumed after %v", failover, time.Since(killed))

	c.start(int(victim))
	c.waitReady(60*time.Second, int(victim))
	waitFor(t, 60*time.Second, "leaders rebalance to the preferred replicas", func() bool {
		ls, err := leaders(ctx, adm, topic)
		if err != nil {
			return false
		}
		return slices.Equal(sortedLeaders(ls), sortedLeaders(preferred))
	})
	time.Sleep(time.Second) // some produce after the rebalance
	cancel()
	time.Sleep(500 * time.Millisecond)
	if acks.fails.Load() > 0 {
		t.Logf("%d records failed (not acknowledged)", acks.fails.Load())
	}

	// Every replica catches up: equal high watermarks and checksums.
	var final map[int32]int64
	waitFor(t, 60*time.Second, "every replica has the same high watermark and checksum", func() bool {
		hw := map[int32]map[uint64]int64{}
		sum := map[int32]map[uint32]bool{}
		for id := 1; id <= 3; id++ {
			rs, err := c.replicas(id, true)
			if err != nil {
				return false
			}
			for _, r := range rs {
				if r.Topic != topic {
					continue
				}
				if hw[r.Partition] == nil {
					hw[r.Partition], sum[r.Partition] = map[uint64]int64{}, map[uint32]bool{}
				}
				hw[r.Partition][r.Broker] = r.HighWatermark
				sum[r.Partition][r.Checksum] = true
			}
		}
		final = map[int32]int64{}
		for p := range int32(partitions) {
			if len(hw[p]) != 3 || len(sum[p]) != 1 {
				return false
			}
			for _, v := range hw[p] {
				if final[p] != 0 && final[p] != v {
					return false
				}
				final[p] = v
			}
		}
		return true
	})

	// Read every partition back.
	for p := range int32(partitions) {
		acks.mu.Lock()
		acked := slices.Clone(acks.acked[p])
		acks.mu.Unlock()
		got := consumeAll(t, c.kafkaAddrs(), topic, p, final[p])
		checkOnceInOrder(t, p, acked, got, rewrites)
	}

	// cluster status --json agrees: every replica at lag 0, equal checksums.
	// It finds the brokers' HTTP addresses itself (chronik.http.addr).
	out := runCLI(t, "cluster", "status", "--json", "--checksums", "--brokers", strings.Join(c.kafkaAddrs(), ","))
	var st struct {
		Partitions []struct {
			Topic        string
			Partition    int32
			ReplicaState []struct {
				Broker   uint64
				Lag      int64
				Checksum uint32
			} `json:"replica_state"`
		}
	}
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("cluster status --json: %v\n%s", err, out)
	}
	for _, p := range st.Partitions {
		if p.Topic != topic {
			continue
		}
		if len(p.ReplicaState) != 3 {
			t.Errorf("cluster status: partition %d has %d replica states, want 3", p.Partition, len(p.ReplicaState))
			continue
		}
		for _, r := range p.ReplicaState {
			if r.Lag != 0 || r.Checksum != p.ReplicaState[0].Checksum {
				t.Errorf("cluster status: partition %d replica on broker %d: lag %d, checksum %08x vs %08x", p.Partition, r.Broker, r.Lag, r.Checksum, p.ReplicaState[0].Checksum)
			}
		}
	}
}

// consumeAll reads partition p of topic from the start to end.
func consumeAll(t *testing.T, seeds []string, topic string, p int32, end int64) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []string
	next := int64(0)
	for next < end {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("partition %d: read %d of %d records before the deadline", p, next, end)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("partition %d: fetch error: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != next {
				t.Errorf("partition %d: offset %d after %d: gap or repeat", p, r.Offset, next-1)
			}
			next = r.Offset + 1
			out = append(out, string(r.Value))
		})
	}
	return out
}

// checkOnceInOrder checks that every acknowledged sequence number appears
// in got, in increasing order, and exactly once except within at most
// rewrites re-written runs (a batch written again right after itself: a
// retry of a batch whose first write committed unanswered). Records that
// failed may appear: their outcome was unknown to the producer.
func checkOnceInOrder(t *testing.T, p int32, acked []int64, got []string, rewrites int) {
	t.Helper()
	seen := map[int64]int{}
	last, runs, dups := int64(-1), 0, 0
	for i, v := range got {
		ps, ss, ok := strings.Cut(v, "-")
		seq, err := strconv.ParseInt(ss, 10, 64)
		if !ok || err != nil || ps != strconv.Itoa(int(p)) {
			t.Fatalf("partition %d offset %d: unexpected value %q", p, i, v)
		}
		seen[seq]++
		if seen[seq] > 1 {
			dups++
			if i == 0 || !strings.HasSuffix(got[i-1], "-"+strconv.FormatInt(seq-1, 10)) {
				runs++ // a re-written run starts here
			}
			if seen[seq] > 2 {
				t.Errorf("partition %d offset %d: sequence %d written %d times", p, i, seq, seen[seq])
			}
			continue
		}
		if seq <= last {
			t.Errorf("partition %d offset %d: sequence %d after %d: out of order", p, i, seq, last)
		}
		last = seq
	}
	missing := 0
	for _, s := range acked {
		if seen[s] == 0 {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("partition %d: %d of %d acknowledged records missing", p, missing, len(acked))
	}
	if runs > rewrites {
		t.Errorf("partition %d: %d records written twice in %d runs, %d allowed", p, dups, runs, rewrites)
	}
	t.Logf("partition %d: %d acknowledged, %d read back, %d written twice", p, len(acked), len(got), dups)
}

func mostLeader(ls map[int32]int32) int32 {
	n := map[int32]int{}
	best := int32(-1)
	for _, l := range ls {
		n[l]++
		if best < 0 || n[l] > n[best] || (n[l] == n[best] && l < best) {
			best = l
		}
	}
	return best
}

func sortedLeaders(ls map[int32]int32) []int32 {
	out := make([]int32, 0, len(ls))
	for p := range int32(len(ls)) {
		out = append(out, ls[p])
	}
	return out
}

func otherIDs(victim int32) []int {
	var out []int
	for id := 1; id <= 3; id++ {
		if int32(id) != victim {
			out = append(out, id)
		}
	}
	return out
}

// waitFor polls cond every 50ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
