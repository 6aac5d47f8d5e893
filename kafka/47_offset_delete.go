package kafka

// OffsetDelete: v0
//
// Behaviour:
//   - Deletes committed offsets of a group (tombstones through Raft). A
//     partition of a topic the group's members are subscribed to is
//     GROUP_SUBSCRIBED_TO_TOPIC (consumer groups only: their subscriptions are
//     decoded); an unknown group GROUP_ID_NOT_FOUND; a non-consumer group
//     with members NON_EMPTY_GROUP.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

func init() { regKey(47, 0, 0, handleOffsetDelete) }

func handleOffsetDelete(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	resp.Version = r.version
	fail := func(e *kerr.Error) (kmsg.Response, error) {
		resp.ErrorCode = e.Code
		return resp, nil
	}
	if req.Group == "" {
		return fail(kerr.InvalidGroupID)
	}
	cp, e := s.groups.partitionOf(req.Group)
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
	return resp, nil
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
