package proctest

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestReverseStartOrder starts the brokers in reverse order with a delay
// between them: a broker alone is not ready (no __meta quorum), the cluster
// forms once two run, every broker serves, and no Raft message was ever
// dropped for want of a peer address (the unresolved-peer metric stays 0).
func TestReverseStartOrder(t *testing.T) {
	c := newCluster(t, 3)
	c.start(3)
	time.Sleep(1500 * time.Millisecond)
	if c.ready(3) {
		t.Fatal("broker 3 alone reports ready: __meta has no quorum")
	}
	c.start(2)
	time.Sleep(1500 * time.Millisecond)
	c.start(1)
	c.waitReady(60*time.Second, 3, 2, 1)

	// Every broker lists every broker and serves produce and fetch.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaAddrs(1)...), kgo.AllowAutoTopicCreation(),
		kgo.DefaultProduceTopic("reverse"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 30 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	for id := 1; id <= 3; id++ {
		md, err := admin(t, c.kafkaAddrs(id)).Metadata(ctx, "reverse")
		if err != nil {
			t.Fatalf("metadata from broker %d: %v", id, err)
		}
		if len(md.Brokers) != 3 {
			t.Errorf("broker %d lists %d brokers, want 3", id, len(md.Brokers))
		}
		for p, pd := range md.Topics["reverse"].Partitions {
			if pd.Leader < 1 || pd.LeaderEpoch < 1 {
				t.Errorf("broker %d: partition %d leader %d epoch %d", id, p, pd.Leader, pd.LeaderEpoch)
			}
		}
	}
	checkFollowerRedirect(t, c, "reverse")
	checkTopicCommands(t, c)
	// /metrics counts the produced records on the leaders, and leader changes.
	var produced, changes float64
	for id := 1; id <= 3; id++ {
		v, err := c.sumMetric(id, "chronik_produce_records_total")
		if err != nil {
			t.Fatal(err)
		}
		produced += v
		if v, err = c.sumMetric(id, "chronik_raft_leader_changes_total"); err != nil {
			t.Fatal(err)
		}
		changes += v
	}
	if produced != 30 || changes == 0 {
		t.Errorf("/metrics: %v records produced (want 30), %v leader changes (want > 0)", produced, changes)
	}
	for id := 1; id <= 3; id++ {
		v, err := c.metric(id, "chronik_raft_unresolved_peers_total")
		if err != nil {
			t.Fatal(err)
		}
		if v != 0 {
			t.Errorf("broker %d: %v Raft messages had no address", id, v)
		}
	}
}

// TestManyTopicsRestart creates many one-partition topics, restarts every
// broker, and checks that every broker lists the same topics. The count is
// CHRONIK_PROCTEST_TOPICS (default 50, 100 with CHRONIK_FAULTS=full, 20 with
// -short); the brokers use the
// pebble LogDB, as recommended for many partitions.
func TestManyTopicsRestart(t *testing.T) {
	n := 50
	if fullFaults() {
		n = 100
	}
	if testing.Short() {
		n = 20
	}
	if s := os.Getenv("CHRONIK_PROCTEST_TOPICS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("CHRONIK_PROCTEST_TOPICS=%q: want a positive number", s)
		}
		n = v
	}
	c := newCluster(t, 3, "--logdb", "pebble")
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	c.waitReady(60*time.Second, 1, 2, 3)
	brokers := strings.Join(c.kafkaAddrs(), ",")
	var want []string
	start := time.Now()
	for i := 0; i < n; i += 50 {
		args := []string{"topic", "create", "--brokers", brokers, "-p", "1", "--timeout", "5m"}
		var names []string
		for j := i; j < min(i+50, n); j++ {
			names = append(names, "t"+strconv.Itoa(100000+j))
		}
		want = append(want, names...)
		runCLI(t, append(args, names...)...)
	}
	t.Logf("created %d topics in %v", n, time.Since(start))

	start = time.Now()
	for id := 1; id <= 3; id++ {
		c.stop(id)
	}
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	c.waitReady(5*time.Minute, 1, 2, 3)
	t.Logf("restarted 3 brokers in %v", time.Since(start))
	for id := 1; id <= 3; id++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		tds, err := admin(t, c.kafkaAddrs(id)).ListTopics(ctx)
		cancel()
		if err != nil {
			t.Fatalf("list topics on broker %d: %v", id, err)
		}
		got := tds.Names()
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("broker %d lists %d topics, want the %d created", id, len(got), len(want))
		}
	}
}
