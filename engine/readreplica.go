package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/chronik-io/chronik/shards"
)

// Reads from followers (Kafka's KIP-392). A consumer that names its rack
// (Fetch v11+, client.rack) and fetches from the partition leader is told
// to read from an in-sync replica in its rack instead (PreferredReadReplica);
// that follower then serves its fetches from its own segment files. A
// follower's applied end is committed data (only committed entries are
// applied), so a follower serves up to its own applied end, which trails the
// leader's high watermark by the entries it has not applied yet.

// ReplicaView is a replica the leader may name as a consumer's read replica.
type ReplicaView struct {
	Broker uint64 // broker id
	Rack   string // its broker's rack, "" when it has none
}

// SelectReadReplica chooses the replica a consumer in clientRack reads from,
// as Kafka's RackAwareReplicaSelector does: the leader (0) when the consumer
// names no rack, when the leader is in the consumer's rack, or when no
// candidate is; otherwise the first candidate in the consumer's rack.
// candidates are the in-sync followers (not the leader) in replica order;
// the leader cannot compare their log ends as Kafka's does, so the order
// decides among several in the rack.
func SelectReadReplica(clientRack string, leader ReplicaView, candidates []ReplicaView) uint64 {
	if clientRack == "" || leader.Rack == clientRack {
		return 0
	}
	for _, c := range candidates {
		if c.Broker != leader.Broker && c.Rack == clientRack {
			return c.Broker
		}
	}
	return 0
}

// readReplicaFor returns the broker the leader of part (this broker) names
// as the read replica of a consumer in clientRack, 0 for itself. Candidates
// are the followers in sync in this broker's view (their broker reachable)
// that are not a reassignment's new replica still catching up.
func (e *Engine) readReplicaFor(part shards.Partition, clientRack string) uint64 {
	if clientRack == "" {
		return 0
	}
	st := e.meta.State()
	self := e.cfg.NodeID
	leader := ReplicaView{Broker: self, Rack: st.Brokers[self].Rack}
	if leader.Rack == clientRack {
		return 0
	}
	var pending []uint64
	if part.Reassign != nil {
		pending = part.Reassign.Pending()
	}
	var cands []ReplicaView
	for _, r := range part.Replicas {
		b := shards.BrokerOf(r)
		if b == self || slices.Contains(pending, r) || !e.links.reachable(b) {
			continue
		}
		bi, ok := st.Brokers[b]
		if !ok || bi.Fenced {
			continue
		}
		cands = append(cands, ReplicaView{Broker: b, Rack: bi.Rack})
	}
	return SelectReadReplica(clientRack, leader, cands)
}

// readerOf returns the local replica that serves a fetch of the partition:
// this broker's when it leads (leading true), or, with opts.AllowFollower,
// this broker's follower when it is in sync: its Raft replica follows a
// leader, this broker reaches that leader's broker, and it is neither a new
// replica still catching up nor a damaged one being rebuilt. Otherwise the
// errors of leaderOf (a *NotLeaderError naming the leader sends the consumer
// back to it).
func (e *Engine) readerOf(topic string, index int32, opts FetchOptions) (p *partition, part shards.Partition, leading bool, err error) {
	if !opts.AllowFollower {
		p, t, _, err := e.leaderOf(topic, index)
		if err != nil {
			return nil, part, false, err
		}
		return p, t.Partitions[index], true, nil
	}
	if _, part, err = e.resolve(topic, index); err != nil {
		return nil, part, false, err
	}
	if p = e.local(part.Shard); p != nil {
		// The replica's own Raft view, not the leader last reported to
		// __meta: a follower cut off from its leader loses it within an
		// election timeout (its pre-vote campaign forgets the leader).
		leader, _ := e.leaders.get(part.Shard)
		hint, _ := e.leaderHint(part.Shard, p.replica)
		switch {
		case hint == p.replica:
			return p, part, true, nil
		case leader != 0 && leader != p.replica && e.links.reachable(shards.BrokerOf(leader)) &&
			(part.Reassign == nil || !slices.Contains(part.Reassign.Pending(), p.replica)) &&
			e.quarantined(part.Shard) == nil:
			return p, part, false, nil
		}
	}
	p, _, _, err = e.leaderOf(topic, index)
	if err == nil {
		return p, part, true, nil // became the leader meanwhile
	}
	return nil, part, false, err
}

// followerCatchUp makes follower replica p apply what its leader has
// committed when the consumer's offset is past p's applied end: the consumer
// saw that offset on the leader, so it exists. A linearizable read returns
// once p has applied the leader's commit index as of the read. It fails with
// a *NotLeaderError naming the leader when the read does not complete within
// an election timeout, which sends the consumer back to the leader.
func (e *Engine) followerCatchUp(ctx context.Context, p *partition, offset int64) error {
	_, end, err := p.sm.Offsets()
	if err != nil {
		return fmt.Errorf("topic %q partition %d: %w", p.topic, p.index, err)
	}
	if offset <= end {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(e.cfg.ElectionTicks)*e.cfg.RTT)
	defer cancel()
	if _, err := e.nh.SyncRead(ctx, p.shard, nil); err != nil {
		leader, term := e.leaderHint(p.shard, p.replica)
		e.log.Debug("follower fetch: catching up failed, consumer sent to the leader", "topic", p.topic, "partition", p.index,
			"offset", offset, "applied_end", end, "err", err)
		return &NotLeaderError{Leader: shards.BrokerOf(leader), Epoch: term}
	}
	return nil
}
