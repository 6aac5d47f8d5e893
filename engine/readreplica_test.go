package engine_test

import (
	"testing"

	"github.com/chronik-io/chronik/engine"
)

// TestSelectReadReplica checks the rack-aware choice of a consumer's read
// replica against Kafka's RackAwareReplicaSelector.
func TestSelectReadReplica(t *testing.T) {
	rv := func(b uint64, rack string) engine.ReplicaView { return engine.ReplicaView{Broker: b, Rack: rack} }
	a1, b2, c3, b4 := rv(1, "a"), rv(2, "b"), rv(3, "c"), rv(4, "b")
	for _, tc := range []struct {
		name   string
		rack   string
		leader engine.ReplicaView
		isr    []engine.ReplicaView
		want   uint64
	}{
		{"no client rack: the leader", "", a1, []engine.ReplicaView{b2, c3}, 0},
		{"leader in the client's rack", "a", a1, []engine.ReplicaView{b2, c3}, 0},
		{"follower in the client's rack", "b", a1, []engine.ReplicaView{b2, c3}, 2},
		{"other follower in the client's rack", "c", a1, []engine.ReplicaView{b2, c3}, 3},
		{"no replica in the client's rack", "d", a1, []engine.ReplicaView{b2, c3}, 0},
		{"in-sync follower of the rack out of sync: the leader", "b", a1, []engine.ReplicaView{c3}, 0},
		{"no followers in sync", "b", a1, nil, 0},
		{"two in the rack: the first in replica order", "b", a1, []engine.ReplicaView{b4, b2}, 4},
		{"leader without a rack", "b", rv(1, ""), []engine.ReplicaView{b2}, 2},
		{"the leader among the candidates is skipped", "b", b2, []engine.ReplicaView{b2, b4}, 0},
		{"racks compare exactly", "B", a1, []engine.ReplicaView{b2}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := engine.SelectReadReplica(tc.rack, tc.leader, tc.isr); got != tc.want {
				t.Errorf("SelectReadReplica(%q, %v, %v) = %d, want %d", tc.rack, tc.leader, tc.isr, got, tc.want)
			}
		})
	}
}
