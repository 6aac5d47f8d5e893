package kafka

// OffsetFetch: v1-9
//
// Behaviour:
//   - Answers a group's committed offsets (offset, leader epoch, metadata)
//     from the coordinator's memory, rebuilt from __consumer_offsets after a
//     failover. A partition without a commit answers offset -1.
//   - Null topics (v2+) answer every committed offset of the group.
//   - v8+ asks for several groups; each group gets its own error code
//     (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS) so clients retry per
//     group. A group that does not exist answers no offsets, no error.
//   - RequireStable (v7+, KIP-447): a partition with an offset committed
//     in a transaction that has not ended (TxnOffsetCommit) answers
//     UNSTABLE_OFFSET_COMMIT, and the client asks again; without it such a
//     partition answers the last offset committed outside transactions.
//   - Authorization: Describe on the group, else GROUP_AUTHORIZATION_FAILED;
//     Describe on each topic, else TOPIC_AUTHORIZATION_FAILED (left out when
//     all topics are asked for).
//
// Version notes:
//   - v2: ErrorCode at the top level; null topics = all
//   - v3: ThrottleMillis
//   - v5: LeaderEpoch per partition
//   - v6: flexible versions
//   - v7: RequireStable
//   - v8: Groups (batched, KIP-709)
//   - v9: MemberID and MemberEpoch (KIP-848; not checked)

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/coordinator"
)

func init() { regKey(9, 1, 9, handleOffsetFetch) }

// fetchOffsets is FetchOffsets as r's principal may see it: Describe on
// the group, else GROUP_AUTHORIZATION_FAILED; topics it may not Describe
// answer TOPIC_AUTHORIZATION_FAILED when named and are left out of a
// listing of every topic (topics nil), as in Kafka.
func (s *Server) fetchOffsets(r *request, group string, topics map[string][]int32, stable bool) ([]coordinator.TopicOffsets, *kerr.Error) {
	if !s.authorize(r, acl.Describe, acl.Group, group) {
		return nil, kerr.GroupAuthorizationFailed
	}
	describable := s.topicAuthorizer(r, acl.Describe)
	var denied []coordinator.TopicOffsets
	for t, ps := range topics {
		if describable.ok(t) {
			continue
		}
		d := coordinator.TopicOffsets{Topic: t}
		for _, p := range ps {
			d.Partitions = append(d.Partitions, coordinator.PartitionOffset{Partition: p, Offset: -1, LeaderEpoch: -1, Err: kerr.TopicAuthorizationFailed})
		}
		denied = append(denied, d)
		delete(topics, t)
	}
	offs, e := s.groups.FetchOffsets(group, topics, stable)
	if e != nil {
		return nil, e
	}
	if topics == nil {
		offs = slices.DeleteFunc(offs, func(t coordinator.TopicOffsets) bool { return !describable.ok(t.Topic) })
	}
	return append(offs, denied...), nil
}

func handleOffsetFetch(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	resp.Version = r.version
	if r.version >= 8 {
		for _, rg := range req.Groups {
			out := kmsg.NewOffsetFetchResponseGroup()
			out.Group = rg.Group
			var topics map[string][]int32
			if rg.Topics != nil {
				topics = map[string][]int32{}
				for _, t := range rg.Topics {
					topics[t.Topic] = append(topics[t.Topic], t.Partitions...)
				}
			}
			offs, e := s.fetchOffsets(r, rg.Group, topics, req.RequireStable)
			if e != nil {
				out.ErrorCode = e.Code
			}
			for _, t := range offs {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p.Partition, p.Offset, p.LeaderEpoch, kmsg.StringPtr(p.Metadata)
					rp.ErrorCode = errCode(p.Err)
					rt.Partitions = append(rt.Partitions, rp)
				}
				out.Topics = append(out.Topics, rt)
			}
			resp.Groups = append(resp.Groups, out)
		}
		return resp, nil
	}
	var topics map[string][]int32
	if req.Topics != nil || r.version < 2 {
		topics = map[string][]int32{}
		for _, t := range req.Topics {
			topics[t.Topic] = append(topics[t.Topic], t.Partitions...)
		}
	}
	offs, e := s.fetchOffsets(r, req.Group, topics, r.version >= 7 && req.RequireStable)
	if e != nil {
		resp.ErrorCode = e.Code
		// Before v2 there is no top-level code: each partition carries it.
		if r.version < 2 {
			for _, t := range req.Topics {
				rt := kmsg.NewOffsetFetchResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseTopicPartition()
					rp.Partition, rp.Offset, rp.ErrorCode = p, -1, e.Code
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
		}
		return resp, nil
	}
	for _, t := range offs {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p.Partition, p.Offset, p.LeaderEpoch, kmsg.StringPtr(p.Metadata)
			rp.ErrorCode = errCode(p.Err)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}
