package cli

import (
	"slices"
	"strings"
	"testing"
)

// remove-broker's plan: each replica on the leaving broker goes, in its
// position, to the least loaded broker not already a replica; a partition
// with nowhere to go fails the plan.
func TestPlanDrain(t *testing.T) {
	parts := []partitionReplicas{
		{"a", 0, []int32{1, 2, 4}},
		{"a", 1, []int32{4, 3, 1}},
		{"a", 2, []int32{2, 3, 1}},
		{"b", 0, []int32{4}},
	}
	got, err := planDrain(parts, []int32{1, 2, 3, 4}, 4)
	if err != nil {
		t.Fatal(err)
	}
	// Loads without broker 4: 1:3, 2:2, 3:2.
	want := []partitionReplicas{
		{"a", 0, []int32{1, 2, 3}}, // 3 (2 is a replica already)
		{"a", 1, []int32{2, 3, 1}}, // 2 (load 2, 3 is a replica)
		{"b", 0, []int32{1}},       // all at 3 now: the lowest id
	}
	if len(got) != len(want) {
		t.Fatalf("plan %v", got)
	}
	for i := range want {
		if got[i].topic != want[i].topic || got[i].partition != want[i].partition || !slices.Equal(got[i].replicas, want[i].replicas) {
			t.Errorf("move %d: %v, want %v", i, got[i], want[i])
		}
	}
	if _, err := planDrain([]partitionReplicas{{"c", 0, []int32{1, 2, 3}}}, []int32{1, 2, 3}, 3); err == nil || !strings.Contains(err.Error(), "c/0") {
		t.Errorf("RF 3 on 3 brokers, one leaving: %v, want an error naming c/0", err)
	}
	if got, err := planDrain(parts, []int32{1, 2, 3, 4}, 5); err != nil || len(got) != 0 {
		t.Errorf("a broker with no replica: %v %v", got, err)
	}
}
