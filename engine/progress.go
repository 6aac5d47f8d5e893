package engine

import "sync"

// followerProgress is how far each follower of the partitions this broker
// leads has acknowledged its leader's Raft log, as the followers' own
// ReplicateResp messages say (raftconf.ReplicatedFunc). A leader keeps the
// entries its slowest follower still lacks and need keep no more
// (raftlog.go). What a follower acknowledged in an earlier term says
// nothing of what it holds now (a new leader may have truncated its
// uncommitted tail), so a new term starts afresh.
type followerProgress struct {
	mu     sync.Mutex
	shards map[uint64]*shardProgress
}

// shardProgress is one shard's acknowledgements in its newest term seen.
type shardProgress struct {
	term  uint64
	match map[uint64]uint64 // replica id -> highest index acknowledged in term
}

// replicated records that replica of shard acknowledged the log up to
// index in term.
func (f *followerProgress) replicated(shard, replica, term, index uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.shards == nil {
		f.shards = map[uint64]*shardProgress{}
	}
	s := f.shards[shard]
	if s == nil || term > s.term {
		s = &shardProgress{term: term, match: map[uint64]uint64{}}
		f.shards[shard] = s
	}
	if term == s.term && index > s.match[replica] {
		s.match[replica] = index
	}
}

// slowest returns the lowest index that each of followers acknowledged in
// term; ok is false when one of them acknowledged nothing in it (it may be
// down since before the term began, or not heard from yet).
func (f *followerProgress) slowest(shard, term uint64, followers []uint64) (index uint64, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.shards[shard]
	if s == nil || s.term != term || len(followers) == 0 {
		return 0, false
	}
	for i, r := range followers {
		m, heard := s.match[r]
		if !heard {
			return 0, false
		}
		if i == 0 || m < index {
			index = m
		}
	}
	return index, true
}

// keepOnly forgets the shards for which keep is false.
func (f *followerProgress) keepOnly(keep func(shard uint64) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for shard := range f.shards {
		if !keep(shard) {
			delete(f.shards, shard)
		}
	}
}
