package coordinator

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-io/chronik/engine"
)

// What both coordinators share: the partitions of their internal topic this
// broker leads, loaded and unloaded as leadership moves, and the topic
// itself, created on first use.

// coordinatedPartition is one internal-topic partition a coordinator serves
// while this broker leads it.
type coordinatedPartition interface {
	comparable
	partition() int32
	leaderEpoch() int32
	// loadedCh is closed once the partition's log is replayed.
	loadedCh() <-chan struct{}
	// load replays the log (run on its own goroutine); unload drops the
	// state once leadership is lost.
	load()
	unload()
}

// partitionSet tracks the partitions of topic this broker leads.
type partitionSet[P coordinatedPartition] struct {
	be    Backend
	topic string
	// create configures the topic when it is created; newPart makes the
	// state of a partition this broker starts leading in epoch.
	create  engine.TopicConfig
	newPart func(p, epoch int32) P
	// noTopic is partitionOf's answer while the topic does not exist.
	noTopic *kerr.Error
	log     *slog.Logger

	mu       sync.Mutex
	parts    map[int32]P
	creating bool
	// sighted is, per partition, the first-election leader locate last
	// saw and since when (handingOver).
	sighted map[int32]sighting
}

// sighting is a partition leader (broker, epoch) and when locate first saw
// it.
type sighting struct {
	leader uint64
	epoch  int32
	since  time.Time
}

// A new partition's first leader is whichever replica's election timer
// fired first; the engine then hands leadership to the preferred replica
// (engine/reconcile.go), within a few hundred milliseconds. A coordinator
// named in that window loses the partition right after: kafkajs' sendOffsets
// then fails with NOT_COORDINATOR instead of looking the group up again.
// So locate answers COORDINATOR_NOT_AVAILABLE (clients retry it) while a
// first-election leader that is not the preferred one, with the preferred
// broker in sync, has been seen for less than handOverWait.
const (
	// firstElectionEpoch is the highest leader epoch (Raft term) of a
	// partition's first elections (the first is term 2 with pre-vote; one
	// split vote makes it 3).
	firstElectionEpoch = 3
	// handOverWait bounds the wait, as engine's CreateTopic bounds its own
	// wait for preferred leaders.
	handOverWait = 3 * time.Second
)

// handingOver reports whether p's leader is a first-election leader about
// to hand the partition to its preferred replica (see handOverWait).
func (s *partitionSet[P]) handingOver(p engine.PartitionInfo, now time.Time) bool {
	if p.PreferredLeader == 0 || p.Leader == p.PreferredLeader || p.LeaderEpoch > firstElectionEpoch ||
		!slices.Contains(p.ISR, p.PreferredLeader) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sighted == nil {
		s.sighted = map[int32]sighting{}
	}
	seen, ok := s.sighted[p.Partition]
	if !ok || seen.leader != p.Leader || seen.epoch != p.LeaderEpoch {
		seen = sighting{leader: p.Leader, epoch: p.LeaderEpoch, since: now}
		s.sighted[p.Partition] = seen
	}
	return now.Sub(seen.since) < handOverWait
}

// watch compares this broker's leadership of each partition of the topic
// with the loaded set, loading and unloading partitions.
func (s *partitionSet[P]) watch() {
	leading := map[int32]int32{}
	if t := topicInfo(s.be.Metadata(s.topic), s.topic); t != nil {
		for _, p := range t.Partitions {
			st, err := s.be.PartitionStats(s.topic, p.Partition)
			if err == nil && st.IsLeader {
				leading[p.Partition] = st.LeaderEpoch
			}
		}
	}
	s.mu.Lock()
	var drop, load []P
	for p, cp := range s.parts {
		if epoch, ok := leading[p]; !ok || epoch != cp.leaderEpoch() {
			drop = append(drop, cp)
			delete(s.parts, p)
		}
	}
	for p, epoch := range leading {
		if _, ok := s.parts[p]; !ok {
			cp := s.newPart(p, epoch)
			s.parts[p] = cp
			load = append(load, cp)
		}
	}
	s.mu.Unlock()
	for _, cp := range drop {
		s.log.Info("no longer coordinating partition", "partition", cp.partition(), "epoch", cp.leaderEpoch())
		cp.unload()
	}
	for _, cp := range load {
		s.log.Info("loading partition", "partition", cp.partition(), "epoch", cp.leaderEpoch())
		go cp.load()
	}
}

// unloadAll drops every partition (the coordinator closes).
func (s *partitionSet[P]) unloadAll() {
	s.mu.Lock()
	parts := s.parts
	s.parts = map[int32]P{}
	s.mu.Unlock()
	for _, cp := range parts {
		cp.unload()
	}
}

// ensureTopic creates the topic in the background (once at a time).
func (s *partitionSet[P]) ensureTopic() {
	s.mu.Lock()
	if s.creating {
		s.mu.Unlock()
		return
	}
	s.creating = true
	s.mu.Unlock()
	go func() {
		defer func() { s.mu.Lock(); s.creating = false; s.mu.Unlock() }()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.be.CreateInternalTopic(ctx, s.topic, s.create); err != nil && !errors.Is(err, engine.ErrTopicExists) {
			s.log.Warn("create internal topic failed", "topic", s.topic, "err", err)
		}
	}()
}

// locate returns the broker leading key's partition of t, the topic as
// metadata describes it (nil: it does not exist, and locate starts creating
// it). The error is COORDINATOR_NOT_AVAILABLE while the topic is being
// created, the partition has no leader, or its first leader is handing it
// to the preferred replica (handingOver).
func (s *partitionSet[P]) locate(t *engine.TopicInfo, key string) (uint64, *kerr.Error) {
	n := partitionCount(t)
	if n == 0 {
		s.ensureTopic()
		return 0, kerr.CoordinatorNotAvailable
	}
	want := PartitionFor(key, n)
	for _, p := range t.Partitions {
		if p.Partition == want && p.Leader != 0 && !s.handingOver(p, time.Now()) {
			return p.Leader, nil
		}
	}
	return 0, kerr.CoordinatorNotAvailable
}

// partitionOf returns the loaded partition coordinating key on this broker,
// or the error a client acts on: NOT_COORDINATOR when another broker (or
// none) coordinates it, COORDINATOR_LOAD_IN_PROGRESS while loading, noTopic
// while the topic does not exist.
func (s *partitionSet[P]) partitionOf(key string) (P, *kerr.Error) {
	var zero P
	n := partitionCount(topicInfo(s.be.Metadata(s.topic), s.topic))
	if n == 0 {
		return zero, s.noTopic
	}
	idx := PartitionFor(key, n)
	s.mu.Lock()
	cp, ok := s.parts[idx]
	s.mu.Unlock()
	if !ok {
		// Leading the partition but not yet watched into the set (the
		// topic was just created, or leadership just arrived): the client
		// found this broker through FindCoordinator and must wait, not
		// look again.
		if st, err := s.be.PartitionStats(s.topic, idx); err == nil && st.IsLeader {
			return zero, kerr.CoordinatorLoadInProgress
		}
		return zero, kerr.NotCoordinator
	}
	select {
	case <-cp.loadedCh():
		return cp, nil
	default:
		return zero, kerr.CoordinatorLoadInProgress
	}
}

// loaded returns the partitions this broker serves now.
func (s *partitionSet[P]) loaded() []P {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []P
	for _, cp := range s.parts {
		select {
		case <-cp.loadedCh():
			out = append(out, cp)
		default:
		}
	}
	return out
}

// loading reports whether a partition led here is still being replayed.
func (s *partitionSet[P]) loading() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cp := range s.parts {
		select {
		case <-cp.loadedCh():
		default:
			return true
		}
	}
	return false
}

// topicInfo returns topic's entry in md, or nil.
func topicInfo(md engine.Metadata, topic string) *engine.TopicInfo {
	for i := range md.Topics {
		if md.Topics[i].Name == topic {
			return &md.Topics[i]
		}
	}
	return nil
}
