package raftconf

import (
	"slices"
	"testing"

	pb "github.com/lni/dragonboat/v4/raftpb"
)

func TestObserveReplicated(t *testing.T) {
	b := pb.MessageBatch{Requests: []pb.Message{
		{Type: pb.ReplicateResp, ShardID: 7, From: 2, Term: 3, LogIndex: 40},
		{Type: pb.ReplicateResp, ShardID: 7, From: 3, Term: 3, LogIndex: 10, Reject: true, Hint: 9},
		{Type: pb.Replicate, ShardID: 7, From: 1, Term: 3, LogIndex: 41},
		{Type: pb.HeartbeatResp, ShardID: 7, From: 3, Term: 3},
		{Type: pb.ReplicateResp, ShardID: 8, From: 3, Term: 1, LogIndex: 5},
	}}
	type ack struct{ shard, replica, term, index uint64 }
	var got []ack
	observeReplicated(b, func(shard, replica, term, index uint64) {
		got = append(got, ack{shard, replica, term, index})
	})
	want := []ack{{7, 2, 3, 40}, {8, 3, 1, 5}}
	if !slices.Equal(got, want) {
		t.Fatalf("observed %v, want %v (accepted ReplicateResp only)", got, want)
	}
}

// TestObservingTransportLinked: the linkname reaches dragonboat's TCP
// transport constructor.
func TestObservingTransportLinked(t *testing.T) {
	nhc := NodeHost(t.TempDir(), "127.0.0.1:0", DefaultOptions())
	ObserveReplication(&nhc, func(_, _, _, _ uint64) {})
	tr := nhc.Expert.TransportFactory.Create(nhc, func(pb.MessageBatch) {}, func(pb.Chunk) bool { return true })
	if tr == nil || tr.Name() == "" {
		t.Fatalf("transport %v", tr)
	}
	if !nhc.Expert.TransportFactory.Validate("127.0.0.1:7001") || nhc.Expert.TransportFactory.Validate("no port") {
		t.Fatal("Validate does not check host:port addresses")
	}
}
