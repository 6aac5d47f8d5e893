package kafka

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-io/chronik/coordinator"
	"github.com/chronik-io/chronik/engine"
)

// groupState returns the generation and state of a group on the server
// coordinating it, or ok false.
func (kc *kafkaCluster) groupState(name string) (gen int32, state string, members int, ok bool) {
	for _, s := range kc.servers {
		if d, e := s.groups.DescribeGroup(name); e == nil && d.State != "Dead" {
			return d.Generation, d.State, len(d.Members), true
		}
	}
	return 0, "", 0, false
}

// TestGroupStaticMembership: a static member (group.instance.id) restarted
// within its session timeout gets its partitions back without a rebalance:
// the generation stays and the other member loses nothing.
func TestGroupStaticMembership(t *testing.T) {
	kc := newKafkaCluster(t, 1, groupTestConfig())
	const topic, parts = "static", 6
	kc.CreateTopic(t, topic, engine.TopicConfig{Partitions: parts})
	ctx := testCtx(t, 2*time.Minute)
	l := newGroupLedger(t)
	static := func(name string) []kgo.Opt {
		return []kgo.Opt{kgo.InstanceID(name), kgo.Balancers(kgo.RangeBalancer())}
	}
	stopA := l.member(ctx, kc, "a", "gs", topic, static("a")...)
	stopB := l.member(ctx, kc, "b", "gs", topic, static("b")...)
	defer stopB()
	l.waitOwners(t, parts, 2, 30*time.Second)
	gen, state, _, _ := kc.groupState("gs")
	if state != "Stable" {
		t.Fatalf("group %s", state)
	}
	l.mu.Lock()
	had := len(l.assigned["a"])
	revokedB := l.revoked["b"]
	l.mu.Unlock()

	stopA() // a static member does not leave the group on close
	if _, _, n, _ := kc.groupState("gs"); n != 2 {
		t.Fatalf("%d members after a static member closed, want 2", n)
	}
	stopA = l.member(ctx, kc, "a", "gs", topic, static("a")...)
	defer stopA()
	l.waitOwners(t, parts, 2, 30*time.Second)
	gen2, state2, _, _ := kc.groupState("gs")
	l.mu.Lock()
	defer l.mu.Unlock()
	if gen2 != gen || state2 != "Stable" {
		t.Errorf("after the restart: generation %d %s, want %d Stable (no rebalance)", gen2, state2, gen)
	}
	if len(l.assigned["a"]) != had || l.revoked["b"] != revokedB {
		t.Errorf("a has %d partitions (had %d), b revoked %d (had %d)", len(l.assigned["a"]), had, l.revoked["b"], revokedB)
	}
}

// TestGroupCoordinatorFailover: the coordinator's engine and Kafka server
// stop mid-stream; consumers find the new coordinator (which rebuilt the
// group from its __consumer_offsets partition), committed offsets are
// intact and consumption resumes from them: every record is processed once.
// The coordinator stops gracefully (leadership handed over) or is aborted
// (a crash: a new leader is elected); the graceful variant runs only with
// CHRONIK_TEST_ALL=1 (a crash is the harder case, and make test is bounded).
func TestGroupCoordinatorFailover(t *testing.T) {
	for _, tc := range []struct {
		name  string
		abort bool
	}{{"stop", false}, {"abort", true}} {
		if !tc.abort && os.Getenv("CHRONIK_TEST_ALL") == "" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) { testGroupFailover(t, tc.abort) })
	}
}

func testGroupFailover(t *testing.T, abort bool) {
	kc := newKafkaCluster(t, 3, groupTestConfig())
	const topic, parts, group = "failover", 6, "gf"
	kc.CreateTopic(t, topic, engine.TopicConfig{Partitions: parts, ReplicationFactor: 3})
	ctx := testCtx(t, 2*time.Minute)
	l := newGroupLedger(t)
	prod := kc.client(t, kgo.DefaultProduceTopic(topic))
	produceN(t, prod, topic, parts, 600)
	var stops []func()
	for i := 1; i <= 2; i++ {
		stops = append(stops, l.member(ctx, kc, fmt.Sprintf("m%d", i), group, topic))
	}
	defer func() {
		for _, s := range stops {
			s()
		}
	}()
	l.waitCount(t, 600, 60*time.Second)

	adm := kc.admin(t)
	before, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	coord := kc.Leader(OffsetsTopic, coordinator.PartitionFor(group, 4))
	genBefore, _, _, _ := kc.groupState(group)
	t.Logf("stopping coordinator node %d (generation %d)", coord, genBefore)
	stopped := time.Now()
	if abort {
		kc.Kill(coord)
		kc.servers[coord].Close()
	} else {
		kc.servers[coord].Close()
		kc.Stop(coord)
	}

	produceN(t, prod, topic, parts, 600)
	l.waitCount(t, 1200, 90*time.Second)
	t.Logf("600 records produced and consumed %v after the coordinator stopped", time.Since(stopped).Round(time.Millisecond))
	var after kadm.OffsetResponses
	// A new admin client: kgo keeps a cached coordinator until it answers
	// an error code, and a stopped broker answers nothing.
	adm = kc.admin(t)
	for {
		if after, err = adm.FetchOffsets(ctx, group); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal(err)
		}
		t.Logf("fetch offsets: %v", err)
		time.Sleep(time.Second)
	}
	for p := int32(0); p < parts; p++ {
		b, _ := before.Lookup(topic, p)
		a, ok := after.Lookup(topic, p)
		if !ok || a.At < b.At {
			t.Errorf("partition %d: committed %d after failover, %d before", p, a.At, b.At)
		}
	}
	// A member whose heartbeats failed while the coordinator moved may
	// rejoin (kgo does after some errors), so the group can be rebalancing
	// for a moment; it must settle to Stable.
	deadline := time.Now().Add(30 * time.Second)
	for {
		gen, state, _, ok := kc.groupState(group)
		if ok && state == "Stable" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("30 s after failover: generation %d %q, want Stable", gen, state)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}
