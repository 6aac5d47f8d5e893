package coordinator

// Committed offsets: OffsetCommit, OffsetFetch and OffsetDelete.

import (
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// CommitOffsets runs an OffsetCommit request of any version (req.Version:
// leader epochs from v6) and returns its response, after the offsets are
// written through Raft. known reports whether a topic partition exists
// (UNKNOWN_TOPIC_OR_PARTITION otherwise); it is called only once the group
// is found to be coordinated here. Errors are per partition:
// OFFSET_METADATA_TOO_LARGE (over MaxMetadataBytes), UNKNOWN_MEMBER_ID,
// ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS, FENCED_INSTANCE_ID,
// NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE (a write that timed out). A
// generation of -1 without a member id is a standalone (admin) commit,
// accepted only while the group has no members.
func (c *Coordinator) CommitOffsets(req *kmsg.OffsetCommitRequest, known func(topic string, partition int32) bool) *kmsg.OffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	resp.Version = req.Version
	var parts []commitPart
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			cp := commitPart{tp: topicPartition{t.Topic, p.Partition}, offset: p.Offset, leaderEpoch: p.LeaderEpoch, metadata: p.Metadata}
			if req.Version < 6 {
				cp.leaderEpoch = -1
			}
			parts = append(parts, cp)
		}
	}
	b := c.newCommitBatch(req.Group, parts, known)
	defer func() {
		for _, t := range req.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = b.codes[topicPartition{t.Topic, p.Partition}]
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	}()
	all := b.fail
	if req.Group == "" {
		all(kerr.InvalidGroupID)
		return resp
	}
	cp, e := c.partitionOf(req.Group)
	if e != nil {
		all(e)
		return resp
	}
	recs := b.recs
	if cp.isShareGroup(req.Group) {
		all(kerr.GroupIDNotFound)
		return resp
	}
	g := cp.lookup(req.Group, req.Generation < 0)
	if g == nil {
		if req.Generation < 0 {
			all(kerr.NotCoordinator)
		} else {
			all(kerr.IllegalGeneration)
		}
		return resp
	}
	defer g.mu.Unlock()
	if e := g.checkAnyCommit(req.Version, req.MemberID, req.InstanceID, req.Generation, b.tps); e != nil {
		all(e)
		return resp
	}
	if len(recs) == 0 {
		return resp
	}
	base, err := cp.writeAt(recs...)
	if err != nil {
		c.log.Warn("offset commit failed", "group", req.Group, "err", err)
		all(writeError(err))
		return resp
	}
	for i, oc := range b.commits {
		oc.logOffset = base
		g.offsets[b.tps[i]] = oc
	}
	return resp
}

// commitPart is one partition of an OffsetCommit or TxnOffsetCommit
// request.
type commitPart struct {
	tp          topicPartition
	offset      int64
	leaderEpoch int32 // -1 for versions without one
	metadata    *string
}

// commitBatch is a commit request's partitions, validated: the error code
// of each, and the offsets and records of the valid ones, in request order.
type commitBatch struct {
	parts   []commitPart
	codes   map[topicPartition]int16
	commits []offsetCommit
	tps     []topicPartition
	recs    []engine.Record
}

// newCommitBatch validates parts committed by group: a partition known
// does not report is UNKNOWN_TOPIC_OR_PARTITION, metadata over
// MaxMetadataBytes OFFSET_METADATA_TOO_LARGE.
func (c *Coordinator) newCommitBatch(group string, parts []commitPart, known func(topic string, partition int32) bool) *commitBatch {
	b := &commitBatch{parts: parts, codes: map[topicPartition]int16{}}
	if group == "" {
		return b
	}
	now := time.Now()
	for _, p := range parts {
		switch {
		case !known(p.tp.topic, p.tp.partition):
			b.codes[p.tp] = kerr.UnknownTopicOrPartition.Code
		case p.metadata != nil && len(*p.metadata) > c.cfg.MaxMetadataBytes:
			b.codes[p.tp] = kerr.OffsetMetadataTooLarge.Code
		default:
			oc := offsetCommit{offset: p.offset, leaderEpoch: p.leaderEpoch, committed: now}
			if p.metadata != nil {
				oc.metadata = *p.metadata
			}
			b.commits, b.tps = append(b.commits, oc), append(b.tps, p.tp)
			b.recs = append(b.recs, offsetRecord(group, p.tp.topic, p.tp.partition, &oc))
		}
	}
	return b
}

// fail sets e on every partition without an error yet.
func (b *commitBatch) fail(e *kerr.Error) {
	for _, p := range b.parts {
		if b.codes[p.tp] == 0 {
			b.codes[p.tp] = e.Code
		}
	}
}

// checkAnyCommit validates the committer of an OffsetCommit of version v
// to a classic group (checkCommit) or a consumer group: its members must
// commit with v9+ (UNSUPPORTED_VERSION), at their member epoch
// (checkConsumerCommit).
func (g *group) checkAnyCommit(v int16, memberID string, instanceID *string, generation int32, tps []topicPartition) *kerr.Error {
	if g.consumer == nil {
		return g.checkCommit(memberID, instanceID, generation)
	}
	if memberID != "" && v < 9 {
		return kerr.UnsupportedVersion
	}
	return g.checkConsumerCommit(memberID, generation, tps)
}

// checkCommit validates the committer of an OffsetCommit (or OffsetDelete
// by a member) against the group, as Kafka's classic coordinator.
func (g *group) checkCommit(memberID string, instanceID *string, generation int32) *kerr.Error {
	if generation < 0 && memberID == "" {
		if len(g.members) > 0 {
			return kerr.UnknownMemberID
		}
		return nil
	}
	if e := g.checkInstance(instanceID, memberID); e != nil {
		return e
	}
	if g.state == groupCompletingRebalance {
		return kerr.RebalanceInProgress
	}
	if _, ok := g.members[memberID]; !ok {
		return kerr.UnknownMemberID
	}
	if generation != g.generation {
		return kerr.IllegalGeneration
	}
	return nil
}

// TopicOffsets are a group's committed offsets of one topic.
type TopicOffsets struct {
	Topic      string
	Partitions []PartitionOffset
}

// PartitionOffset is a committed offset; Offset and LeaderEpoch are -1 for
// a partition without a commit.
type PartitionOffset struct {
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	// Err is UNSTABLE_OFFSET_COMMIT when stable offsets were asked for and
	// a transaction that has not ended committed one for the partition
	// (Offset is then -1).
	Err *kerr.Error
}

// FetchOffsets returns the group's offsets for topics (nil: all committed),
// -1 for requested partitions without a commit, sorted by topic and
// partition. With requireStable (KIP-447), a partition with an offset
// committed in a transaction that has not ended answers
// UNSTABLE_OFFSET_COMMIT in its Err: the client asks again.
//
// Errors: INVALID_GROUP_ID (empty name without topics), NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE. A group that does
// not exist has no offsets and no error.
func (c *Coordinator) FetchOffsets(name string, topics map[string][]int32, requireStable bool) ([]TopicOffsets, *kerr.Error) {
	if name == "" && topics == nil {
		return nil, kerr.InvalidGroupID
	}
	cp, e := c.partitionOf(name)
	if e != nil {
		return nil, e
	}
	got := map[topicPartition]offsetCommit{}
	unstable := map[topicPartition]bool{}
	if g := cp.lookup(name, false); g != nil {
		for tp, oc := range g.offsets {
			got[tp] = oc
		}
		if requireStable {
			for _, pend := range g.txnOffsets {
				for tp := range pend {
					unstable[tp] = true
				}
			}
		}
		g.mu.Unlock()
	}
	byTopic := map[string][]PartitionOffset{}
	add := func(tp topicPartition) {
		f := PartitionOffset{Partition: tp.partition, Offset: -1, LeaderEpoch: -1}
		if unstable[tp] {
			f.Err = kerr.UnstableOffsetCommit
		} else if oc, ok := got[tp]; ok {
			f.Offset, f.LeaderEpoch, f.Metadata = oc.offset, oc.leaderEpoch, oc.metadata
		}
		byTopic[tp.topic] = append(byTopic[tp.topic], f)
	}
	if topics == nil {
		for tp := range got {
			add(tp)
		}
	} else {
		for t, ps := range topics {
			if len(ps) == 0 {
				byTopic[t] = byTopic[t][:0:0]
			}
			for _, p := range ps {
				add(topicPartition{t, p})
			}
		}
	}
	out := make([]TopicOffsets, 0, len(byTopic))
	for t, ps := range byTopic {
		sort.Slice(ps, func(i, j int) bool { return ps[i].Partition < ps[j].Partition })
		out = append(out, TopicOffsets{t, ps})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out, nil
}

// DeleteOffsets runs an OffsetDelete request and returns its response,
// after the tombstones are written through Raft. A partition of a topic
// the members of a consumer group subscribe to is GROUP_SUBSCRIBED_TO_TOPIC;
// the request fails with GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP (a
// non-consumer group with members), NOT_COORDINATOR or
// COORDINATOR_LOAD_IN_PROGRESS.
func (c *Coordinator) DeleteOffsets(req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	resp.Version = req.Version
	fail := func(e *kerr.Error) *kmsg.OffsetDeleteResponse {
		resp.ErrorCode = e.Code
		return resp
	}
	if req.Group == "" {
		return fail(kerr.InvalidGroupID)
	}
	cp, e := c.partitionOf(req.Group)
	if e != nil {
		return fail(e)
	}
	g := cp.lookup(req.Group, false)
	if g == nil {
		return fail(kerr.GroupIDNotFound)
	}
	defer g.mu.Unlock()
	if len(g.members) > 0 && g.protocolType != "consumer" {
		return fail(kerr.NonEmptyGroup)
	}
	subscribed := g.subscribedTopics()
	g.consumerSubscribed(subscribed)
	var recs []engine.Record
	var del []topicPartition
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			tp := topicPartition{t.Topic, p.Partition}
			if subscribed[t.Topic] {
				rp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			} else if _, ok := g.offsets[tp]; ok {
				recs = append(recs, offsetRecord(g.name, t.Topic, p.Partition, nil))
				del = append(del, tp)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(recs) > 0 {
		if err := cp.write(recs...); err != nil {
			return fail(writeError(err))
		}
		for _, tp := range del {
			delete(g.offsets, tp)
		}
	}
	return resp
}

// subscribedTopics decodes the consumer subscriptions of the members.
func (g *group) subscribedTopics() map[string]bool {
	out := map[string]bool{}
	if g.protocolType != "consumer" {
		return out
	}
	for _, m := range g.members {
		for _, p := range m.join.Protocols {
			if g.protocol != "" && p.Name != g.protocol {
				continue
			}
			var md kmsg.ConsumerMemberMetadata
			if md.ReadFrom(p.Metadata) == nil {
				for _, t := range md.Topics {
					out[t] = true
				}
			}
		}
	}
	return out
}
