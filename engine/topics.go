package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/chronik-io/chronik/shards"
)

// CreateTopic creates a topic: the controller places tc.Partitions
// partitions (default Config.DefaultPartitions) of tc.ReplicationFactor
// replicas (default min(3, brokers)) round robin over the registered
// brokers, spreading preferred leaders. It returns once every partition has
// a leader (or ctx is done: ErrTimeout, the topic then exists).
//
// Errors: ErrInvalidTopic, ErrInvalidPartitions,
// ErrInvalidReplicationFactor, ErrInvalidConfig, ErrTopicExists,
// ErrTimeout, ErrClosed.
func (e *Engine) CreateTopic(ctx context.Context, name string, tc TopicConfig) error {
	return e.createTopic(ctx, name, tc, false)
}

// CreateInternalTopic creates a topic marked internal in Metadata (such as
// __consumer_offsets); otherwise as CreateTopic.
func (e *Engine) CreateInternalTopic(ctx context.Context, name string, tc TopicConfig) error {
	return e.createTopic(ctx, name, tc, true)
}

func (e *Engine) createTopic(ctx context.Context, name string, tc TopicConfig, internal bool) error {
	if !validTopicName(name) {
		return fmt.Errorf("topic %q: %w", name, ErrInvalidTopic)
	}
	if tc.Partitions == 0 {
		tc.Partitions = e.cfg.DefaultPartitions
	}
	if tc.Partitions < 1 || tc.Partitions > shards.MaxPartitions {
		return fmt.Errorf("topic %q: %d partitions: %w", name, tc.Partitions, ErrInvalidPartitions)
	}
	brokers := len(e.meta.State().SortedBrokers())
	if tc.ReplicationFactor == 0 {
		tc.ReplicationFactor = e.cfg.DefaultReplicationFactor
	}
	if tc.ReplicationFactor == 0 {
		tc.ReplicationFactor = int16(min(3, max(brokers, 1)))
	}
	if tc.ReplicationFactor < 1 || int(tc.ReplicationFactor) > brokers {
		return fmt.Errorf("topic %q: replication factor %d with %d registered brokers: %w", name, tc.ReplicationFactor, brokers, ErrInvalidReplicationFactor)
	}
	configs := tc.Map()
	if _, err := ParseTopicConfigs(configs); err != nil {
		return fmt.Errorf("topic %q: %w", name, err)
	}
	var id [16]byte
	rand.Read(id[:])
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	_, err := e.proposeMeta(ctx, shards.MetaCommand{
		Op: shards.OpCreateTopic, Name: name, TopicID: id, Internal: internal,
		Configs: configs, Partitions: tc.Partitions, RF: tc.ReplicationFactor,
	})
	var me *metaError
	if errors.As(err, &me) {
		switch me.code {
		case shards.MetaTopicExists:
			return fmt.Errorf("topic %q: %w", name, ErrTopicExists)
		case shards.MetaNotEnoughBrokers:
			return fmt.Errorf("topic %q: replication factor %d: %w", name, tc.ReplicationFactor, ErrInvalidReplicationFactor)
		}
	}
	if err != nil {
		return fmt.Errorf("create topic %q: %w", name, err)
	}
	return e.waitLeaders(ctx, name)
}

// settleWait bounds how long CreateTopic waits, once every partition has a
// leader, for the leaders to move to their preferred replicas.
const settleWait = 3 * time.Second

// waitLeaders waits until every partition of topic has a leader recorded in
// __meta, then (at most settleWait more or until ctx ends, and without
// failing) until those leaders are the preferred replicas. A new partition's first leader is
// whichever replica's election timer fired first, and the engine then hands
// leadership to the preferred replica (balanceLeaders): a client that
// learned the first leader would meet that move with its first produce and
// stall until its next metadata refresh (seconds, for franz-go). Answering
// after the move keeps the topic's first writes from meeting it.
func (e *Engine) waitLeaders(ctx context.Context, name string) error {
	var ledAt time.Time
	for {
		st := e.meta.State()
		t, ok := st.Topics[name]
		if !ok {
			return fmt.Errorf("topic %q: %w", name, ErrUnknownTopic)
		}
		all, settled := true, true
		for _, p := range t.Partitions {
			l := st.Leaders[p.Shard].Leader
			if l == 0 {
				all = false
				break
			}
			if _, up := st.Brokers[shards.BrokerOf(p.Preferred)]; up && p.Preferred != 0 && l != p.Preferred {
				settled = false
			}
		}
		if all && ledAt.IsZero() {
			ledAt = time.Now()
		}
		if all && (settled || time.Since(ledAt) >= settleWait) {
			return nil
		}
		select {
		case <-ctx.Done():
			if all {
				return nil // led, not yet by the preferred replicas: usable
			}
			for i, p := range t.Partitions {
				if st.Leaders[p.Shard].Leader != 0 {
					continue
				}
				local, term := e.leaders.get(p.Shard)
				e.log.Warn("new topic: partition without a leader in __meta", "topic", name, "partition", i, "shard", p.Shard,
					"replicas", p.Replicas, "hosted_here", e.local(p.Shard) != nil, "local_leader", local, "local_term", term)
			}
			return fmt.Errorf("topic %q: waiting for partition leaders: %w", name, ErrTimeout)
		case <-e.closing:
			return ErrClosed
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// WaitLeaders blocks until every partition of topic has a leader known to
// __meta (as CreateTopic does before it returns).
func (e *Engine) WaitLeaders(ctx context.Context, topic string) error {
	return e.waitLeaders(ctx, topic)
}

// DeleteTopic deletes a topic. Every broker stops its replicas of the
// topic's partitions and deletes their files; shard ids are never reused.
//
// Errors: ErrUnknownTopic, ErrTimeout, ErrClosed.
func (e *Engine) DeleteTopic(ctx context.Context, name string) error {
	_, retried, err := e.proposeMetaRetried(ctx, shards.MetaCommand{Op: shards.OpDeleteTopic, Name: name})
	var me *metaError
	if errors.As(err, &me) && me.code == shards.MetaUnknownTopic {
		if retried {
			return nil // an earlier, timed-out attempt deleted it
		}
		return fmt.Errorf("topic %q: %w", name, ErrUnknownTopic)
	}
	if err != nil {
		return fmt.Errorf("delete topic %q: %w", name, err)
	}
	return nil
}

// AddReplica adds a replica of a partition on broker (which must not host
// one yet): the Raft membership change runs on this broker, which must host
// a replica of the partition, then __meta records it and the target broker's
// reconciler starts the new replica as a joiner that catches up from the
// leader's log or a streamed snapshot.
func (e *Engine) AddReplica(ctx context.Context, topic string, partition int32, broker uint64) error {
	_, part, err := e.resolve(topic, partition)
	if err != nil {
		return err
	}
	gen := uint64(0)
	for _, r := range part.Replicas {
		if shards.BrokerOf(r) == broker {
			return fmt.Errorf("topic %q partition %d: broker %d already hosts replica %d: %w", topic, partition, broker, r, ErrInvalidReplicationFactor)
		}
		gen = max(gen, r/shards.ReplicaGenerationBase)
	}
	if part.Generation > 0 {
		// A reassignment or a rebuild gave out generations, and may have
		// removed this broker's replica of one of them: only a new one is
		// sure never to have been removed.
		gen = max(gen, part.Generation+1)
	}
	replica := gen*shards.ReplicaGenerationBase + broker
	if e.local(part.Shard) == nil {
		return fmt.Errorf("topic %q partition %d: no local replica to change membership from: %w", topic, partition, ErrNotReady)
	}
	if _, ok := e.reg.Addr(broker); !ok {
		return fmt.Errorf("broker %d is not a known broker: %w", broker, ErrInvalidReplicationFactor)
	}
	for {
		err = e.nh.SyncRequestAddReplica(ctx, part.Shard, replica, shards.NodeHostID(broker), 0)
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("add replica %d to shard %d: %w (%v)", replica, part.Shard, ErrTimeout, err)
	}
	_, err = e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpAddReplica, Shard: part.Shard, Replica: replica})
	return err
}

// TopicName returns the name of the topic whose ID is id: what a request
// that names topics by ID (Fetch v13+) needs, without building the
// Metadata of every topic.
func (e *Engine) TopicName(id [16]byte) (string, bool) {
	for name, t := range e.meta.State().Topics {
		if t.ID == id {
			return name, true
		}
	}
	return "", false
}

// Metadata returns the cluster as recorded in __meta: brokers, topics and,
// per partition, the leader (this broker's own view for partitions it
// hosts, else the leader last reported to __meta), epoch and replicas.
// With topic names it describes only those of them that exist (brokers are
// always all), which costs what those topics' partitions cost rather than
// the whole cluster's: callers that need one topic should name it.
func (e *Engine) Metadata(topics ...string) Metadata {
	st := e.meta.State()
	md := Metadata{ClusterID: st.ClusterID, ControllerID: e.ControllerID()}
	for _, id := range slices.Sorted(maps.Keys(st.Brokers)) {
		b := st.Brokers[id]
		md.Brokers = append(md.Brokers, Broker{ID: b.ID, KafkaAddr: b.KafkaAddr, Listeners: b.Listeners, Rack: b.Rack})
	}
	var names []string
	if len(topics) > 0 {
		for _, n := range topics {
			if _, ok := st.Topics[n]; ok && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	} else {
		names = make([]string, 0, len(st.Topics))
		for n := range st.Topics {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		t := st.Topics[n]
		tc, _ := ParseTopicConfigs(t.Configs)
		tc.Partitions = int32(len(t.Partitions))
		if len(t.Partitions) > 0 {
			tc.ReplicationFactor = int16(t.Partitions[0].ReplicationFactor())
		}
		ti := TopicInfo{Name: t.Name, ID: t.ID, Internal: t.Internal, Config: tc}
		for i, p := range t.Partitions {
			pi := PartitionInfo{Partition: int32(i), PreferredLeader: shards.BrokerOf(p.Preferred)}
			for _, r := range p.Replicas {
				pi.Replicas = append(pi.Replicas, shards.BrokerOf(r))
			}
			leader, epoch := st.Leaders[p.Shard].Leader, st.Leaders[p.Shard].Epoch
			if lp := e.local(p.Shard); lp != nil {
				leader, epoch = e.leaderHint(p.Shard, lp.replica)
			}
			pi.Leader, pi.LeaderEpoch = shards.BrokerOf(leader), int32(epoch)
			if pi.Leader != 0 && pi.Leader != e.cfg.NodeID && !e.links.reachable(pi.Leader) {
				// A leader this broker cannot reach has most likely
				// crashed: no leader (LEADER_NOT_AVAILABLE) makes clients
				// ask again within a quarter second, where a dead
				// leader's address has them retry it with a growing
				// backoff, and so outlast the election.
				pi.Leader = 0
			}
			pi.ISR = e.links.inSync(pi.Replicas, e.cfg.NodeID)
			ti.Partitions = append(ti.Partitions, pi)
		}
		md.Topics = append(md.Topics, ti)
	}
	return md
}
