package coordinator

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-io/chronik/engine"
)

// TestHandingOver checks when locate holds back a partition's leader: only
// a first-election leader that is not the preferred replica, while the
// preferred broker is in sync, and for at most handOverWait.
func TestHandingOver(t *testing.T) {
	t0 := time.Unix(1000, 0)
	fresh := engine.PartitionInfo{Partition: 0, Leader: 2, LeaderEpoch: 2, PreferredLeader: 1, ISR: []uint64{1, 2, 3}}
	with := func(f func(*engine.PartitionInfo)) engine.PartitionInfo {
		p := fresh
		p.ISR = append([]uint64(nil), fresh.ISR...)
		f(&p)
		return p
	}
	for _, tc := range []struct {
		name string
		p    engine.PartitionInfo
		at   time.Duration // after the first sighting at t0
		want bool
	}{
		{"first leader, not preferred", fresh, 0, true},
		{"still within the wait", fresh, handOverWait - time.Millisecond, true},
		{"the wait is over", fresh, handOverWait, false},
		{"preferred leads", with(func(p *engine.PartitionInfo) { p.Leader = 1 }), 0, false},
		{"no preferred replica", with(func(p *engine.PartitionInfo) { p.PreferredLeader = 0 }), 0, false},
		{"preferred broker not in sync", with(func(p *engine.PartitionInfo) { p.ISR = []uint64{2, 3} }), 0, false},
		{"a later election (failover)", with(func(p *engine.PartitionInfo) { p.LeaderEpoch = firstElectionEpoch + 1 }), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &partitionSet[*coordPartition]{}
			s.handingOver(tc.p, t0) // the first sighting
			if got := s.handingOver(tc.p, t0.Add(tc.at)); got != tc.want {
				t.Fatalf("handingOver %+v after %s: %v, want %v", tc.p, tc.at, got, tc.want)
			}
		})
	}

	// Another first-election leader (a split vote) restarts the wait.
	s := &partitionSet[*coordPartition]{}
	s.handingOver(fresh, t0)
	other := with(func(p *engine.PartitionInfo) { p.Leader, p.LeaderEpoch = 3, 3 })
	if !s.handingOver(other, t0.Add(handOverWait)) || !s.handingOver(other, t0.Add(2*handOverWait-time.Millisecond)) {
		t.Fatal("a new first-election leader did not restart the wait")
	}
}

// TestLocateWaitsForHandOver checks locate's answer for a partition whose
// first leader is about to hand it to the preferred replica, and once the
// preferred replica leads.
func TestLocateWaitsForHandOver(t *testing.T) {
	s := &partitionSet[*coordPartition]{}
	ti := &engine.TopicInfo{Name: OffsetsTopic, Partitions: []engine.PartitionInfo{
		{Partition: 0, Leader: 2, LeaderEpoch: 2, PreferredLeader: 1, ISR: []uint64{1, 2, 3}},
	}}
	if id, err := s.locate(ti, "g"); err != kerr.CoordinatorNotAvailable {
		t.Fatalf("first leader, not preferred: broker %d, %v; want COORDINATOR_NOT_AVAILABLE", id, err)
	}
	ti.Partitions[0].Leader, ti.Partitions[0].LeaderEpoch = 1, 3
	if id, err := s.locate(ti, "g"); err != nil || id != 1 {
		t.Fatalf("preferred leads: broker %d, %v; want 1", id, err)
	}
}
