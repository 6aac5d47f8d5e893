package coordinator

// The group coordinator: which broker coordinates a group, and the lifecycle
// of the __consumer_offsets partitions this broker leads.
//
// A group belongs to partition abs(javaStringHashCode(group)) % N of
// __consumer_offsets (Kafka's formula, so tools agree) and is coordinated by
// that partition's Raft leader. A watcher polls the local replicas of the
// topic: when this broker becomes leader of a partition (or its leader epoch
// changes) the partition is loaded from its log (load.go) and then
// served; when leadership is lost its groups are dropped and waiting
// requests answered NOT_COORDINATOR. Every change to a group that must
// survive a failover is a record produced to the partition through Raft
// before the client is answered (records.go).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik-io/chronik/engine"
)

// Coordinator owns the groups of the __consumer_offsets partitions this
// broker leads. Its methods are safe for concurrent use.
type Coordinator struct {
	be  Backend // nil: groups unavailable
	cfg Config
	log *slog.Logger

	stop chan struct{}
	done chan struct{}

	// skipped counts records of __consumer_offsets that loads could not
	// decode and skipped (RecordsSkipped).
	skipped atomic.Int64

	// set holds the __consumer_offsets partitions this broker leads.
	set partitionSet[*coordPartition]

	// topics caches the cluster's topics for the consumer group
	// assignors (consumer_persist.go).
	topics topicsCache
}

// coordPartition is one __consumer_offsets partition led by this broker.
type coordPartition struct {
	c     *Coordinator
	p     int32
	epoch int32
	// ctx is cancelled when leadership is lost; writes use it.
	ctx    context.Context
	cancel context.CancelFunc
	loaded chan struct{} // closed once the log is replayed

	mu     sync.Mutex
	groups map[string]*group
	shares map[string]*shareGroup // share groups (share.go)

	// The live records of the partition (compact.go).
	liveLog

	// Offsets committed in transactions (txn_offsets.go): the groups
	// with offsets pending per producer id, and the tail reading the
	// markers that end them.
	txnMu      sync.Mutex
	txnPids    map[int64]map[string]struct{}
	tailing    bool
	tailFrom   int64 // next offset the tail reads
	tailRewind int64 // a pending write the tail must read again from (MaxInt64: none)
}

// New returns a coordinator over be and starts its watcher, which loads the
// __consumer_offsets partitions this broker leads. A nil be serves no groups:
// every call answers COORDINATOR_NOT_AVAILABLE. A nil log discards. Close
// stops it.
func New(be Backend, cfg Config, log *slog.Logger) *Coordinator {
	cfg.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Coordinator{cfg: cfg, log: log.With("component", "groups"),
		stop: make(chan struct{}), done: make(chan struct{})}
	c.set = partitionSet[*coordPartition]{be: be, topic: OffsetsTopic, log: c.log, parts: map[int32]*coordPartition{},
		noTopic: kerr.CoordinatorNotAvailable,
		create: engine.TopicConfig{
			Partitions:        cfg.OffsetsTopicPartitions,
			ReplicationFactor: cfg.OffsetsTopicReplicationFactor,
			RetentionMs:       -1, // group state is removed by tombstones, never by time
			CleanupPolicy:     "compact",
		},
		newPart: func(p, epoch int32) *coordPartition {
			ctx, cancel := context.WithCancel(context.Background())
			return &coordPartition{c: c, p: p, epoch: epoch, ctx: ctx, cancel: cancel,
				loaded: make(chan struct{}), groups: map[string]*group{}, shares: map[string]*shareGroup{},
				txnPids: map[int64]map[string]struct{}{}}
		}}
	if be != nil {
		c.be = be
		go c.run()
	} else {
		close(c.done)
	}
	return c
}

// Close stops the watcher and drops every group, answering requests
// parked in JoinGroup and SyncGroup NOT_COORDINATOR. It is safe to call
// more than once.
func (c *Coordinator) Close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
	c.set.unloadAll()
}

func (c *Coordinator) run() {
	defer close(c.done)
	t := time.NewTicker(c.cfg.PollInterval)
	defer t.Stop()
	retention := time.NewTicker(c.cfg.RetentionCheckInterval)
	defer retention.Stop()
	compaction := time.NewTicker(compactCheckInterval)
	defer compaction.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.set.watch()
		case <-retention.C:
			c.expireOffsets(time.Now())
		case <-compaction.C:
			c.compact()
		}
	}
}

func (cp *coordPartition) partition() int32          { return cp.p }
func (cp *coordPartition) leaderEpoch() int32        { return cp.epoch }
func (cp *coordPartition) loadedCh() <-chan struct{} { return cp.loaded }

// unload drops the partition's groups: timers stop, waiting requests get
// NOT_COORDINATOR, later calls on a held *group see it dead.
func (cp *coordPartition) unload() {
	cp.cancel()
	cp.mu.Lock()
	groups, shares := cp.groups, cp.shares
	cp.groups, cp.shares = map[string]*group{}, map[string]*shareGroup{}
	cp.mu.Unlock()
	for _, g := range shares {
		g.mu.Lock()
		g.kill()
		g.mu.Unlock()
	}
	for _, g := range groups {
		g.mu.Lock()
		g.kill(kerr.NotCoordinator)
		g.mu.Unlock()
	}
}

// javaStringHashCode is Java's String.hashCode over the UTF-16 code units of s.
func javaStringHashCode(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// PartitionFor is the __consumer_offsets partition of group when the topic
// has n partitions: Kafka's partitionFor, abs(javaStringHashCode(group)) %
// n with abs(MinInt32) = 0, so that tools agree on it.
func PartitionFor(group string, n int32) int32 {
	h := javaStringHashCode(group)
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % n
}

// partitionCount returns the partition count of __consumer_offsets in md, 0
// if the topic does not exist.
func partitionCount(t *engine.TopicInfo) int32 {
	if t == nil {
		return 0
	}
	return int32(len(t.Partitions))
}

func offsetsTopicInfo(md engine.Metadata) *engine.TopicInfo { return topicInfo(md, OffsetsTopic) }

// Locate returns the broker coordinating group: the leader of its
// __consumer_offsets partition, abs(javaStringHashCode(group)) % partitions
// as Kafka computes it. offsets describes that topic (nil: it does not
// exist, and Locate starts creating it in the background). The error is
// COORDINATOR_NOT_AVAILABLE while the topic is being created, the partition
// has no leader or its first leader is handing it to the preferred replica
// (partitionSet.locate), or the coordinator has no backend.
func (c *Coordinator) Locate(offsets *engine.TopicInfo, group string) (uint64, *kerr.Error) {
	if c.be == nil {
		return 0, kerr.CoordinatorNotAvailable
	}
	return c.set.locate(offsets, group)
}

// OffsetsPartition is group's partition of __consumer_offsets, where
// offsets it commits in a transaction are written and the transaction's
// marker must go (AddOffsetsToTxn). While the topic does not exist yet it
// is computed from the partition count the coordinator creates it with,
// and the creation starts: a transactional producer need not look the
// group up first. COORDINATOR_NOT_AVAILABLE without a backend.
func (c *Coordinator) OffsetsPartition(group string) (int32, *kerr.Error) {
	if c.be == nil {
		return 0, kerr.CoordinatorNotAvailable
	}
	n := partitionCount(offsetsTopicInfo(c.be.Metadata(OffsetsTopic)))
	if n == 0 {
		c.set.ensureTopic()
		n = c.cfg.OffsetsTopicPartitions
	}
	return PartitionFor(group, n), nil
}

// partitionOf returns the loaded partition coordinating group on this
// broker, or the error a client acts on: NOT_COORDINATOR when another broker
// (or none) coordinates it, COORDINATOR_LOAD_IN_PROGRESS while loading.
func (c *Coordinator) partitionOf(group string) (*coordPartition, *kerr.Error) {
	if c.be == nil {
		return nil, kerr.CoordinatorNotAvailable
	}
	return c.set.partitionOf(group)
}

// lookup returns the group, creating it (Empty) when create is set; nil
// when it does not exist. The group is returned locked and alive; callers
// unlock it.
func (cp *coordPartition) lookup(name string, create bool) *group {
	for {
		cp.mu.Lock()
		if cp.ctx.Err() != nil {
			cp.mu.Unlock()
			return nil
		}
		g := cp.groups[name]
		if g == nil {
			if !create {
				cp.mu.Unlock()
				return nil
			}
			g = newGroup(cp, name)
			cp.groups[name] = g
		}
		cp.mu.Unlock()
		g.mu.Lock()
		if !g.dead {
			return g
		}
		g.mu.Unlock()
	}
}

// groupList returns the partition's groups (unlocked), taking the
// partition's lock only to copy the list.
func (cp *coordPartition) groupList() []*group {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	groups := make([]*group, 0, len(cp.groups))
	for _, g := range cp.groups {
		groups = append(groups, g)
	}
	return groups
}

// remove forgets a group (deleted or expired); g is locked by the caller.
func (cp *coordPartition) remove(g *group) {
	cp.mu.Lock()
	if cp.groups[g.name] == g {
		delete(cp.groups, g.name)
	}
	cp.mu.Unlock()
}

// write appends records to the partition through Raft and returns once
// they are committed. It fails once leadership is lost.
func (cp *coordPartition) write(recs ...engine.Record) error {
	_, err := cp.writeAt(recs...)
	return err
}

// writeAt is write that returns the offset of the first record.
func (cp *coordPartition) writeAt(recs ...engine.Record) (int64, error) {
	ctx, cancel := context.WithTimeout(cp.ctx, 15*time.Second)
	defer cancel()
	cp.wmu.RLock()
	defer cp.wmu.RUnlock()
	res, err := cp.c.be.Produce(ctx, OffsetsTopic, cp.p, recs)
	if err != nil {
		return 0, fmt.Errorf("write %d records to %s partition %d: %w", len(recs), OffsetsTopic, cp.p, err)
	}
	cp.track(recs)
	return res.BaseOffset, nil
}

// writeError maps a failed write to what the client should do: find the
// coordinator again. A write that timed out (a leader lost mid-write, a
// quorum briefly missing) is COORDINATOR_NOT_AVAILABLE, as Kafka's
// coordinators map an append's REQUEST_TIMED_OUT: clients retry it after
// looking the coordinator up, where REQUEST_TIMED_OUT fails a commit
// (kgo reported "unable to commit in revoked: REQUEST_TIMED_OUT" when a
// coordinator node was killed under a KIP-848 group).
func writeError(err error) *kerr.Error {
	switch {
	case errors.Is(err, engine.ErrNotLeader), errors.Is(err, engine.ErrNotReady),
		errors.Is(err, engine.ErrClosed), errors.Is(err, context.Canceled):
		return kerr.NotCoordinator
	case errors.Is(err, engine.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return kerr.CoordinatorNotAvailable
	}
	return kerr.UnknownServerError
}

func newTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

// RecordsSkipped is how many records of __consumer_offsets the loads of
// this broker's coordinator partitions could not decode and skipped (each
// load of a partition counts its bad records again).
func (c *Coordinator) RecordsSkipped() int64 { return c.skipped.Load() }
