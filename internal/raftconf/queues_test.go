package raftconf

import "testing"

// TestNodeHostSizesQueues checks that building a NodeHost configuration
// has set dragonboat's per-replica queue lengths to chronik's: the linked
// variables exist, held dragonboat's defaults, and took the new values.
func TestNodeHostSizesQueues(t *testing.T) {
	NodeHost(t.TempDir(), "127.0.0.1:1", Options{})
	for _, q := range []struct {
		name      string
		got, want uint64
	}{
		{"receive", dbReceiveQueueLen, receiveQueueLength},
		{"proposals", dbProposalQueueLen, proposalQueueLength},
		{"read index", dbReadIndexQueueLen, readIndexQueueLength},
		{"pending proposal shards", dbPendingProposalShards, pendingProposalShards},
	} {
		if q.got != q.want {
			t.Errorf("%s queue length %d, want %d", q.name, q.got, q.want)
		}
	}
}
