package proctest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-io/chronik/bench"
)

// brokerIDs returns the brokers Metadata lists, in order, asked with a
// new client (a long-lived kgo client may answer from its cache).
func brokerIDs(ctx context.Context, seeds []string) ([]int32, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return nil, err
	}
	var ids []int32
	for _, b := range md.Brokers {
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	return ids, nil
}

// waitBrokers waits (30 s at most) until Metadata lists exactly want.
func waitBrokers(t *testing.T, ctx context.Context, seeds []string, want []int32) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ids, err := brokerIDs(ctx, seeds)
		if err == nil && slices.Equal(ids, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Metadata lists brokers %v (%v), want %v", ids, err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A three-broker cluster grows to four and shrinks back to three while a
// verifying producer (bench verify: acks=all, every acknowledged record
// read back) writes to every partition: broker 4 starts with --join, two
// partitions move onto it (it becomes their preferred leader), then
// `chronik cluster remove-broker 4` moves them off again and removes it;
// the removed process shuts itself down. No acknowledged record may be
// lost or duplicated, no Raft message may lack an address, and Metadata
// lists exactly the brokers of the moment.
//
// Part of make test-faults (and CHRONIK_TEST_ALL=1): about a minute.
func TestGrowShrinkUnderLoad(t *testing.T) {
	if !fullFaults() && os.Getenv("CHRONIK_TEST_ALL") == "" {
		t.Skip("runs with make test-faults (CHRONIK_FAULTS=full) or CHRONIK_TEST_ALL=1")
	}
	c := newCluster(t, 4)
	first3 := strings.Join(strings.Split(c.peers, ",")[:3], ",")
	c.peersOf = map[int]string{1: first3, 2: first3, 3: first3}
	c.extraOf = map[int][]string{4: {"--join", strings.Join(c.kafkaAddrs(1, 2, 3), ",")}}
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	c.waitReady(60*time.Second, 1, 2, 3)
	seeds := c.kafkaAddrs(1, 2, 3)
	adm := admin(t, seeds)

	cfg := bench.DefaultVerifyConfig()
	cfg.Brokers = seeds
	cfg.Topic = "grow"
	cfg.Partitions = 6
	cfg.ReplicationFactor = 3
	cfg.Duration = 45 * time.Second
	cfg.Rate = 1000
	cfg.ReadTimeout = 90 * time.Second
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	resp, err := adm.CreateTopic(cctx, cfg.Partitions, cfg.ReplicationFactor, nil, cfg.Topic)
	ccancel()
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v", cfg.Topic, err, resp.Err)
	}
	type outcome struct {
		res bench.VerifyResult
		err error
	}
	done := make(chan outcome, 1)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Duration+5*time.Minute)
	defer cancel()
	start := time.Now()
	go func() {
		res, err := bench.Verify(ctx, cfg)
		done <- outcome{res, err}
	}()
	time.Sleep(5 * time.Second) // records flow

	// Grow: broker 4 joins through the running brokers and registers.
	c.start(4)
	c.waitReady(60*time.Second, 4)
	waitBrokers(t, ctx, seeds, []int32{1, 2, 3, 4})
	t.Logf("broker 4 joined and registered at %v", time.Since(start).Round(time.Millisecond))
	td, err := adm.ListTopics(ctx, cfg.Topic)
	if err != nil {
		t.Fatalf("describe %s: %v", cfg.Topic, err)
	}
	for p := int32(0); p < 2; p++ {
		reps := td[cfg.Topic].Partitions[p].Replicas
		target := []string{"4"}
		for _, r := range reps[1:] {
			target = append(target, fmt.Sprint(r))
		}
		out := runCLI(t, "topic", "reassign", cfg.Topic, "--brokers", strings.Join(seeds, ","), "-p", fmt.Sprint(p),
			"--replicas", strings.Join(target, ","), "--wait", "--timeout", "60s")
		t.Logf("%s", strings.TrimSpace(string(out)))
	}
	t.Logf("two partitions on broker 4 at %v", time.Since(start).Round(time.Millisecond))
	time.Sleep(5 * time.Second) // broker 4 leads them under load

	// Shrink: move everything off broker 4 and remove it.
	rctx, rcancel := context.WithTimeout(ctx, 3*time.Minute)
	out, err := exec.CommandContext(rctx, chronikBin, "cluster", "remove-broker", "4", "--brokers", strings.Join(seeds, ","),
		"--timeout", "150s").CombinedOutput()
	rcancel()
	t.Logf("cluster remove-broker 4 (at %v):\n%s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("cluster remove-broker 4: %v", err)
	}
	select {
	case <-c.broker(4).exited:
	case <-time.After(30 * time.Second):
		t.Error("the removed broker 4 did not shut itself down within 30 s")
	}
	waitBrokers(t, ctx, seeds, []int32{1, 2, 3})

	var o outcome
	select {
	case o = <-done:
	case <-ctx.Done():
		t.Fatal("verify did not finish")
	}
	if o.err != nil {
		t.Fatalf("verify: %v", o.err)
	}
	r := o.res
	tot := r.Totals
	t.Logf("grow 3->4->3: load %.1fs: acked %d, lost %d, duplicated %d, inconsistent %d, unknown %d, longest stall %v",
		r.Load.Seconds(), tot.Acked, tot.Lost, tot.Duplicated, tot.Inconsistent, tot.Unknown, r.LongestStall.Round(time.Millisecond))
	if !r.OK() || tot.Lost != 0 || tot.Duplicated != 0 || tot.Inconsistent != 0 || tot.Unverified != 0 || tot.Corrupt != 0 {
		t.Errorf("the check failed: %v; findings: %+v; read errors: %+v", r.Problems(), r.Findings, r.ReadErrors)
	}
	if tot.Acked == 0 {
		t.Error("nothing was acknowledged")
	}
	for id := 1; id <= 3; id++ {
		if v, err := c.metric(id, "chronik_raft_unresolved_peers_total"); err != nil || v != 0 {
			t.Errorf("broker %d: chronik_raft_unresolved_peers_total %v (%v), want 0", id, v, err)
		}
	}
	if log, err := os.ReadFile(strings.TrimSuffix(c.broker(4).dir, "node-4") + "node-4.log"); err == nil && !strings.Contains(string(log), "removed from the cluster") {
		t.Error("broker 4's log does not say it was removed")
	}
}
