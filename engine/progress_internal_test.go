package engine

import "testing"

func TestFollowerProgress(t *testing.T) {
	type ack struct{ shard, replica, term, index uint64 }
	tests := []struct {
		name      string
		acks      []ack
		term      uint64
		followers []uint64
		want      uint64
		ok        bool
	}{
		{"slowest of two", []ack{{1, 2, 5, 100}, {1, 3, 5, 80}}, 5, []uint64{2, 3}, 80, true},
		{"highest acknowledgement counts", []ack{{1, 2, 5, 100}, {1, 2, 5, 90}, {1, 3, 5, 120}}, 5, []uint64{2, 3}, 100, true},
		{"a follower not heard from", []ack{{1, 2, 5, 100}}, 5, []uint64{2, 3}, 0, false},
		{"an earlier term says nothing", []ack{{1, 2, 4, 100}, {1, 3, 4, 100}}, 5, []uint64{2, 3}, 0, false},
		{"a new term starts afresh", []ack{{1, 2, 4, 100}, {1, 3, 4, 100}, {1, 2, 5, 60}}, 5, []uint64{2, 3}, 0, false},
		{"a late ack of an old term is ignored", []ack{{1, 2, 5, 60}, {1, 3, 5, 70}, {1, 3, 4, 200}}, 5, []uint64{2, 3}, 60, true},
		{"other shards apart", []ack{{1, 2, 5, 60}, {2, 3, 5, 70}}, 5, []uint64{2, 3}, 0, false},
		{"no followers", []ack{{1, 2, 5, 60}}, 5, nil, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f followerProgress
			for _, a := range tc.acks {
				f.replicated(a.shard, a.replica, a.term, a.index)
			}
			got, ok := f.slowest(1, tc.term, tc.followers)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("slowest = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	var f followerProgress
	f.replicated(1, 2, 5, 10)
	f.replicated(2, 2, 5, 10)
	f.keepOnly(func(shard uint64) bool { return shard == 2 })
	if _, ok := f.slowest(1, 5, []uint64{2}); ok {
		t.Fatal("shard 1 still known after keepOnly dropped it")
	}
	if _, ok := f.slowest(2, 5, []uint64{2}); !ok {
		t.Fatal("shard 2 forgotten by keepOnly")
	}
}
