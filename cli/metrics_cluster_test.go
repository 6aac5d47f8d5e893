package cli

import (
	"testing"

	"github.com/chronik-io/chronik/engine"
)

// clusterHealthOf counts leadership, and replicas on unregistered brokers
// or out of the ISR, from broker 1's view.
func TestClusterHealthOf(t *testing.T) {
	brokers := []engine.Broker{{ID: 1, KafkaAddr: "h1:9092"}, {ID: 2, KafkaAddr: "h2:9092"}, {ID: 3}} // 3 never registered
	// part is a partition whose replicas are all in the ISR, as the
	// engine reports them while every peer is reachable.
	part := func(leader uint64, replicas ...uint64) engine.PartitionInfo {
		return engine.PartitionInfo{Leader: leader, Replicas: replicas, ISR: replicas}
	}
	lagging := func(leader uint64, isr []uint64, replicas ...uint64) engine.PartitionInfo {
		return engine.PartitionInfo{Leader: leader, Replicas: replicas, ISR: isr}
	}
	for _, tc := range []struct {
		name  string
		parts []engine.PartitionInfo
		want  clusterHealth
	}{
		{"healthy", []engine.PartitionInfo{part(1, 1, 2), part(2, 1, 2)}, clusterHealth{led: 1}},
		{"leaderless", []engine.PartitionInfo{part(0, 1, 2), part(1, 1, 2)}, clusterHealth{led: 1, leaderless: 1}},
		{"offline replica on a led partition", []engine.PartitionInfo{part(1, 1, 3)}, clusterHealth{led: 1, underReplicated: 1, offlineReplicas: 1}},
		{"offline replica led elsewhere", []engine.PartitionInfo{part(2, 2, 3)}, clusterHealth{offlineReplicas: 1}},
		{"unknown broker", []engine.PartitionInfo{part(1, 1, 9)}, clusterHealth{led: 1, underReplicated: 1, offlineReplicas: 1}},
		{"registered broker out of the ISR", []engine.PartitionInfo{lagging(1, []uint64{1}, 1, 2)}, clusterHealth{led: 1, underReplicated: 1, offlineReplicas: 1}},
		{"out of the ISR led elsewhere", []engine.PartitionInfo{lagging(2, []uint64{2}, 1, 2)}, clusterHealth{offlineReplicas: 1}},
	} {
		md := engine.Metadata{Brokers: brokers, Topics: []engine.TopicInfo{{Name: "t", Partitions: tc.parts}}}
		if got := clusterHealthOf(md, 1); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
