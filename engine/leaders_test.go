package engine

import (
	"testing"
	"time"

	"github.com/chronik-io/chronik/shards"
)

// pickLeader names a leader from the replica's own view, else from the
// __meta report unless the replica has seen a later term (an election).
func TestPickLeader(t *testing.T) {
	const self = 1
	for _, tc := range []struct {
		name         string
		leader, term uint64
		reported     shards.LeaderInfo
		wantL, wantT uint64
	}{
		{"own view", 2, 5, shards.LeaderInfo{Leader: 2, Epoch: 5}, 2, 5},
		{"own view newer than report", 3, 6, shards.LeaderInfo{Leader: 2, Epoch: 5}, 3, 6},
		{"report newer than own view", 2, 5, shards.LeaderInfo{Leader: 3, Epoch: 7}, 3, 7},
		{"fresh replica, not yet heard from leader", 0, 0, shards.LeaderInfo{Leader: 2, Epoch: 2}, 2, 2},
		{"restarted replica at the reported term", 0, 4, shards.LeaderInfo{Leader: 2, Epoch: 4}, 2, 4},
		{"election in a later term", 0, 6, shards.LeaderInfo{Leader: 2, Epoch: 5}, 0, 6},
		{"report names this replica, which no longer leads", 0, 5, shards.LeaderInfo{Leader: self, Epoch: 5}, 0, 5},
		{"nothing known", 0, 0, shards.LeaderInfo{}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, term := pickLeader(tc.leader, tc.term, tc.reported, self)
			if l != tc.wantL || term != tc.wantT {
				t.Fatalf("pickLeader(%d, %d, %+v) = %d, %d; want %d, %d", tc.leader, tc.term, tc.reported, l, term, tc.wantL, tc.wantT)
			}
		})
	}
}

// ledFor measures an unbroken leadership: a new term with the same leader
// keeps its start, another leader (or none) restarts it, and a replica that
// does not lead has led for 0. The leader balancer hands a partition back
// only after this broker has led it for the cool-down.
func TestLeaderTableLedFor(t *testing.T) {
	var lt leaderTable
	lt.init()
	if d := lt.ledFor(100, 1); d != 0 {
		t.Fatalf("unknown shard: led for %v, want 0", d)
	}
	lt.set(100, 1, 3)
	time.Sleep(20 * time.Millisecond)
	lt.set(100, 1, 4) // re-elected: the same leadership goes on
	if d := lt.ledFor(100, 1); d < 20*time.Millisecond {
		t.Fatalf("after a new term with the same leader: led for %v, want >= 20ms", d)
	}
	if d := lt.ledFor(100, 2); d != 0 {
		t.Fatalf("a replica that does not lead: led for %v, want 0", d)
	}
	lt.set(100, 0, 5) // an election
	lt.set(100, 1, 5)
	if d := lt.ledFor(100, 1); d >= 20*time.Millisecond {
		t.Fatalf("after losing and regaining the leadership: led for %v, want it restarted", d)
	}
}
