package kafka

// OffsetCommit: v2-9
//
// Behaviour:
//   - Sent to the group's coordinator. The offsets are written through Raft
//     to the group's __consumer_offsets partition (Kafka's OffsetCommitKey /
//     OffsetCommitValue records) before the answer: a committed offset
//     survives the coordinator's failure.
//   - A member of a group must send its member id and the current
//     generation: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION otherwise, and
//     REBALANCE_IN_PROGRESS while the group completes a rebalance. A commit
//     with generation -1 is a standalone (admin) commit, accepted only while
//     the group has no members.
//   - Partitions of unknown topics are UNKNOWN_TOPIC_OR_PARTITION; metadata
//     over GroupConfig.MaxMetadataBytes is OFFSET_METADATA_TOO_LARGE.
//   - The retention time of v2-4 is ignored: offsets expire by
//     GroupConfig.OffsetsRetention once the group is empty.
//
// Version notes:
//   - v3: ThrottleMillis
//   - v5: RetentionTimeMillis removed
//   - v6: LeaderEpoch per partition
//   - v7: InstanceID (KIP-345)
//   - v8: flexible versions
//   - v9: the generation may be a KIP-848 member epoch (treated as a generation)

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

func init() { regKey(8, 2, 9, handleOffsetCommit) }

func handleOffsetCommit(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	resp.Version = r.version
	codes := map[topicPartition]int16{}
	all := func(e *kerr.Error) {
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				tp := topicPartition{t.Topic, p.Partition}
				if codes[tp] == 0 {
					codes[tp] = e.Code
				}
			}
		}
	}
	defer func() {
		for _, t := range req.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = codes[topicPartition{t.Topic, p.Partition}]
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	}()
	if req.Group == "" {
		all(kerr.InvalidGroupID)
		return resp, nil
	}
	cp, e := s.groups.partitionOf(req.Group)
	if e != nil {
		all(e)
		return resp, nil
	}
	// Validate topics and metadata first.
	v := s.view()
	now := time.Now()
	commits := map[topicPartition]offsetCommit{}
	var recs []engine.Record
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			tp := topicPartition{t.Topic, p.Partition}
			switch {
			case v.partition(t.Topic, p.Partition) == nil:
				codes[tp] = kerr.UnknownTopicOrPartition.Code
			case p.Metadata != nil && len(*p.Metadata) > s.groups.cfg.MaxMetadataBytes:
				codes[tp] = kerr.OffsetMetadataTooLarge.Code
			default:
				c := offsetCommit{offset: p.Offset, leaderEpoch: p.LeaderEpoch, committed: now}
				if r.version < 6 {
					c.leaderEpoch = -1
				}
				if p.Metadata != nil {
					c.metadata = *p.Metadata
				}
				commits[tp] = c
				recs = append(recs, offsetRecord(req.Group, t.Topic, p.Partition, &c))
			}
		}
	}
	g := cp.lookup(req.Group, req.Generation < 0)
	if g == nil {
		if req.Generation < 0 {
			all(kerr.NotCoordinator)
		} else {
			all(kerr.IllegalGeneration)
		}
		return resp, nil
	}
	defer g.mu.Unlock()
	if e := g.checkCommit(req.MemberID, req.InstanceID, req.Generation); e != nil {
		all(e)
		return resp, nil
	}
	if len(recs) == 0 {
		return resp, nil
	}
	if err := cp.write(recs...); err != nil {
		s.log.Warn("offset commit failed", "group", req.Group, "err", err)
		all(writeError(err))
		return resp, nil
	}
	for tp, c := range commits {
		g.offsets[tp] = c
	}
	return resp, nil
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
