package kafka

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-io/chronik/engine"
)

// groupTestConfig is a server config with short group timers.
func groupTestConfig() Config {
	return Config{AutoCreateTopics: true, Groups: GroupConfig{
		OffsetsTopicPartitions: 4, InitialRebalanceDelay: 300 * time.Millisecond,
		MinSessionTimeout: time.Second, PollInterval: 50 * time.Millisecond,
	}}
}

// groupLedger records which member owns which partition and every record
// processed, and fails the test on a partition owned twice or a record
// processed twice.
type groupLedger struct {
	t         testing.TB
	mu        sync.Mutex
	owner     map[int32]string
	processed map[[2]int64]string // (partition, offset) -> member
	// uncommitted holds records whose commit failed: a group promises
	// at-least-once for them, so processing one again is no error.
	uncommitted map[[2]int64]bool
	revoked     map[string]int // member -> partitions revoked or lost
	assigned    map[string]map[int32]bool
}

func newGroupLedger(t testing.TB) *groupLedger {
	return &groupLedger{t: t, owner: map[int32]string{}, processed: map[[2]int64]string{},
		uncommitted: map[[2]int64]bool{}, revoked: map[string]int{}, assigned: map[string]map[int32]bool{}}
}

func (l *groupLedger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.processed)
}

// member starts a group consumer that processes each poll and commits it
// before allowing the next rebalance.
func (l *groupLedger) member(ctx context.Context, kc *kafkaCluster, name, group, topic string, opts ...kgo.Opt) (stop func()) {
	l.mu.Lock()
	l.assigned[name] = map[int32]bool{}
	l.mu.Unlock()
	drop := func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, ps := range m {
			for _, p := range ps {
				if l.owner[p] == name {
					delete(l.owner, p)
				}
				delete(l.assigned[name], p)
				l.revoked[name]++
			}
		}
	}
	opts = append([]kgo.Opt{
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(300 * time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.ClientID(name),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, ps := range m {
				for _, p := range ps {
					if o, ok := l.owner[p]; ok && o != name {
						l.t.Errorf("partition %d assigned to %s while %s owns it", p, name, o)
					}
					l.owner[p] = name
					l.assigned[name][p] = true
				}
			}
		}),
		kgo.OnPartitionsRevoked(drop),
		kgo.OnPartitionsLost(drop),
	}, opts...)
	cl := kc.client(l.t, opts...)
	done := make(chan struct{})
	pctx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(done)
		for pctx.Err() == nil {
			fs := cl.PollFetches(pctx)
			fs.EachRecord(func(r *kgo.Record) {
				l.mu.Lock()
				k := [2]int64{int64(r.Partition), r.Offset}
				if prev, ok := l.processed[k]; ok && !l.uncommitted[k] {
					l.t.Errorf("record %d/%d processed by %s and again by %s", r.Partition, r.Offset, prev, name)
				}
				l.processed[k] = name
				l.mu.Unlock()
			})
			if err := cl.CommitRecords(pctx, fs.Records()...); err != nil && pctx.Err() == nil {
				l.t.Logf("%s: commit: %v", name, err)
				l.mu.Lock()
				for _, r := range fs.Records() {
					l.uncommitted[[2]int64{int64(r.Partition), r.Offset}] = true
				}
				l.mu.Unlock()
			}
			cl.AllowRebalance()
		}
	}()
	return func() {
		cancel()
		<-done
		cl.AllowRebalance()
		cl.Close() // commits nothing more (autocommit off), leaves the group
	}
}

func (l *groupLedger) waitCount(t testing.TB, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for l.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("processed %d of %d records", l.count(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitOwners waits until every one of n partitions is owned by one of want
// members.
func (l *groupLedger) waitOwners(t testing.TB, n int, want int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		l.mu.Lock()
		owners := map[string]bool{}
		for _, o := range l.owner {
			owners[o] = true
		}
		ok := len(l.owner) == n && len(owners) == want
		l.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("owners %v, want %d partitions over %d members", l.owner, n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestGroupConsumersRebalance: three members share a 12-partition topic, a
// fourth joins and one leaves; every record is processed exactly once (each
// poll is committed before the next rebalance), no partition has two owners,
// and with cooperative-sticky only the partitions that move are revoked.
func TestGroupConsumersRebalance(t *testing.T) {
	kc := newKafkaCluster(t, 1, groupTestConfig())
	const topic, parts = "orders", 12
	kc.CreateTopic(t, topic, engine.TopicConfig{Partitions: parts})
	prod := kc.client(t, kgo.DefaultProduceTopic(topic))
	ctx := testCtx(t, 2*time.Minute)
	l := newGroupLedger(t)
	produceN(t, prod, topic, parts, 1200)

	var stops []func()
	for i := 1; i <= 3; i++ {
		stops = append(stops, l.member(ctx, kc, fmt.Sprintf("m%d", i), "g1", topic))
	}
	l.waitOwners(t, parts, 3, 30*time.Second)
	l.waitCount(t, 1200, 60*time.Second)
	described, err := kc.admin(t).DescribeGroups(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, m := range described["g1"].Members {
		seen = append(seen, m.ClientID+"@"+m.ClientHost)
	}
	if slices.Sort(seen); !slices.Equal(seen, []string{"m1@/127.0.0.1", "m2@/127.0.0.1", "m3@/127.0.0.1"}) {
		t.Errorf("DescribeGroups members %v, want m1-m3 at /127.0.0.1", seen)
	}
	l.mu.Lock()
	before := map[string]map[int32]bool{}
	for m, ps := range l.assigned {
		before[m] = map[int32]bool{}
		for p := range ps {
			before[m][p] = true
		}
	}
	revokedBefore := 0
	for _, n := range l.revoked {
		revokedBefore += n
	}
	l.mu.Unlock()

	// A fourth member joins: it takes 3 partitions, the others keep the rest.
	joined := time.Now()
	stops = append(stops, l.member(ctx, kc, "m4", "g1", topic))
	l.waitOwners(t, parts, 4, 30*time.Second)
	t.Logf("a fourth member owns its partitions %v after it started", time.Since(joined).Round(time.Millisecond))
	produceN(t, prod, topic, parts, 1200)
	l.waitCount(t, 2400, 60*time.Second)
	l.mu.Lock()
	revoked := -revokedBefore
	for _, n := range l.revoked {
		revoked += n
	}
	for m, ps := range before {
		kept := 0
		for p := range ps {
			if l.assigned[m][p] {
				kept++
			}
		}
		if kept < len(ps)-2 {
			t.Errorf("%s kept %d of its %d partitions after a join", m, kept, len(ps))
		}
	}
	l.mu.Unlock()
	if revoked > 3 {
		t.Errorf("a join revoked %d partitions; cooperative-sticky should move only 3", revoked)
	}

	// m1 leaves: its partitions go to the others.
	stops[0]()
	l.waitOwners(t, parts, 3, 30*time.Second)
	produceN(t, prod, topic, parts, 1200)
	l.waitCount(t, 3600, 60*time.Second)
	for _, s := range stops[1:] {
		s()
	}

	// Every partition's committed offset is its end offset.
	adm := kc.admin(t)
	offs, err := adm.FetchOffsets(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < parts; p++ {
		o, ok := offs.Lookup(topic, p)
		end, _ := ends.Lookup(topic, p)
		if !ok || o.At != end.Offset {
			t.Errorf("partition %d committed %+v, want the end offset %d", p, o, end.Offset)
		}
	}
}
