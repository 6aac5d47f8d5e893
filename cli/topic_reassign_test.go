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
}
