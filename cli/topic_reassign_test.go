package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronik-io/chronik/bench"
)

// topic reassign and topic reassignments against an embedded 3-broker
// cluster: flag errors, a cancel of nothing, and a move that --wait sees
// through, after which describe shows the new replicas.
func TestTopicReassignCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chronik brokers")
	}
	t.Parallel() // mostly waiting
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := bench.StartEmbedded(ctx, bench.EmbeddedConfig{Nodes: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	brokers := strings.Join(cl.Brokers(), ",")
	if _, err := runApp(t, "topic", "create", "--brokers", brokers, "--partitions", "1", "--replicas", "2", "mv"); err != nil {
		t.Fatalf("topic create: %v", err)
	}
	// As a user types it (TOPIC first): main moves flags first.
	run := func(args ...string) (string, error) {
		t.Helper()
		return runApp(t, flagsFirst(App().Commands, append([]string{"chronik"}, args...))[1:]...)
	}
	describe := func() []int32 {
		t.Helper()
		out, err := runApp(t, "topic", "describe", "--brokers", brokers, "--json", "mv")
		if err != nil {
			t.Fatalf("topic describe: %v", err)
		}
		var parts []PartitionStatus
		if err := json.Unmarshal([]byte(out), &parts); err != nil || len(parts) != 1 {
			t.Fatalf("topic describe: %v: %s", err, out)
		}
		return parts[0].Replicas
	}
	old := describe()
	var spare int32
	for b := int32(1); b <= 3; b++ {
		if !slices.Contains(old, b) {
			spare = b
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"mv", "--replicas", "1,2"}, "--partition is required"},
		{[]string{"mv", "--partition", "0", "--replicas", "1,x"}, "not a broker id"},
		{[]string{"mv", "--partition", "0", "--replicas", "1", "--cancel"}, "exclude each other"},
		{[]string{"mv", "--partition", "0", "--cancel"}, "NO_REASSIGNMENT_IN_PROGRESS"},
		{[]string{"mv", "--partition", "0", "--replicas", "1,1"}, "INVALID_REPLICA_ASSIGNMENT"},
	} {
		_, err := run(append([]string{"topic", "reassign", "--brokers", brokers}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("topic reassign %v: %v, want an error with %q", tc.args, err, tc.want)
		}
	}

	target := []int32{spare, old[0]}
	out, err := run("topic", "reassign", "mv", "--brokers", brokers, "--partition", "0",
		"--replicas", fmt.Sprintf("%d,%d", target[0], target[1]), "--wait")
	if err != nil || !strings.Contains(out, "done in") {
		t.Fatalf("topic reassign to %v: %v: %s", target, err, out)
	}
	if got := describe(); !slices.Equal(got, target) {
		t.Fatalf("replicas after the move: %v, want %v", got, target)
	}
	out, err = runApp(t, "topic", "reassignments", "--brokers", brokers, "--json")
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Fatalf("topic reassignments after the move: %v: %s", err, out)
	}

	t.Run("cluster rebalance", func(t *testing.T) { testClusterRebalance(t, brokers, run) })
}

// testClusterRebalance piles the replicas of an RF 1 topic, and the
// preferred leaders of an RF 3 topic, onto broker 1 with topic reassign,
// then has cluster rebalance spread them: a dry run changes nothing, the
// real run moves the fewest partitions, and a second plan finds nothing.
func testClusterRebalance(t *testing.T, brokers string, run func(args ...string) (string, error)) {
	describe := func(topic string) [][]int32 {
		t.Helper()
		out, err := runApp(t, "topic", "describe", "--brokers", brokers, "--json", topic)
		if err != nil {
			t.Fatalf("topic describe: %v", err)
		}
		var parts []PartitionStatus
		if err := json.Unmarshal([]byte(out), &parts); err != nil {
			t.Fatalf("topic describe: %v: %s", err, out)
		}
		var reps [][]int32
		for _, p := range parts {
			reps = append(reps, p.Replicas)
		}
		return reps
	}
	for _, tc := range []struct {
		topic, rf string
		to        string // reassigned to before the rebalance
	}{{"rb1", "1", "1"}, {"rb3", "3", "1,2,3"}} {
		if _, err := runApp(t, "topic", "create", "--brokers", brokers, "--partitions", "3", "--replicas", tc.rf, tc.topic); err != nil {
			t.Fatalf("topic create: %v", err)
		}
		for p := 0; p < 3; p++ {
			if out, err := run("topic", "reassign", tc.topic, "--brokers", brokers, "--partition", fmt.Sprint(p), "--replicas", tc.to, "--wait"); err != nil {
				t.Fatalf("topic reassign %s/%d: %v: %s", tc.topic, p, err, out)
			}
		}
	}
	before := [][][]int32{describe("rb1"), describe("rb3")}

	if _, err := run("cluster", "rebalance", "--brokers", brokers, "--by", "size", "rb1"); err == nil || !strings.Contains(err.Error(), "want count or bytes") {
		t.Errorf("--by size: %v", err)
	}
	out, err := run("cluster", "rebalance", "rb1", "rb3", "--brokers", brokers, "--dry-run", "--json")
	if err != nil {
		t.Fatalf("cluster rebalance --dry-run: %v", err)
	}
	var plan RebalancePlan
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("cluster rebalance --json: %v: %s", err, out)
	}
	// rb1: two partitions leave broker 1, each taking its preferred
	// leadership along; rb3's leaders spread by reordering only.
	data, leaderOnly := 0, 0
	for _, m := range plan.Moves {
		if m.LeaderOnly {
			leaderOnly++
		} else {
			data++
		}
	}
	if plan.Executed || data != 2 || leaderOnly != 2 {
		t.Fatalf("dry-run plan: executed %v, %d data moves, %d leader moves; want 2 and 2: %+v", plan.Executed, data, leaderOnly, plan.Moves)
	}
	if got := [][][]int32{describe("rb1"), describe("rb3")}; fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("a dry run changed replicas: %v, was %v", got, before)
	}

	out, err = run("cluster", "rebalance", "rb1", "rb3", "--brokers", brokers, "--dry-run", "--json", "--by", "bytes")
	if err != nil || json.Unmarshal([]byte(out), &plan) != nil || plan.By != "bytes" || plan.Executed {
		t.Fatalf("cluster rebalance --by bytes --dry-run: %v: %s", err, out)
	}
	out, err = run("cluster", "rebalance", "rb1", "rb3", "--brokers", brokers, "--wait")
	if err != nil || !strings.Contains(out, "moves done") {
		t.Fatalf("cluster rebalance --wait: %v: %s", err, out)
	}
	t.Logf("cluster rebalance:\n%s", out)
	leaders := map[int32]int{}
	for _, topic := range []string{"rb1", "rb3"} {
		for _, r := range describe(topic) {
			leaders[r[0]]++
		}
	}
	if leaders[1] != 2 || leaders[2] != 2 || leaders[3] != 2 {
		t.Errorf("preferred leaders per broker after the rebalance: %v, want 2 each", leaders)
	}
	out, err = run("cluster", "rebalance", "rb1", "rb3", "--brokers", brokers, "--dry-run")
	if err != nil || !strings.Contains(out, "nothing to move") {
		t.Fatalf("cluster rebalance after the rebalance: %v: %s", err, out)
	}
}
