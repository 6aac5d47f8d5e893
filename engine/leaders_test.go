package engine

import (
	"testing"

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
