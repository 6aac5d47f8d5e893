package coordinator

import (
	"context"
	"errors"
	"log/slog"
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
// created or the partition has no leader.
func (s *partitionSet[P]) locate(t *engine.TopicInfo, key string) (uint64, *kerr.Error) {
	n := partitionCount(t)
	if n == 0 {
		s.ensureTopic()
		return 0, kerr.CoordinatorNotAvailable
	}
	want := PartitionFor(key, n)
	for _, p := range t.Partitions {
		if p.Partition == want && p.Leader != 0 {
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
