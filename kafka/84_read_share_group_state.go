package kafka

// ReadShareGroupState: v0 and WriteShareGroupState: v0-1 (inter-broker,
// KIP-932)
//
// Behaviour:
//   - The leader of a data partition reads and writes the persisted state of
//     its share partitions on the group's share coordinator (this broker
//     when it leads the group's __consumer_offsets partition, else
//     NOT_COORDINATOR per partition). Writes go through Raft before the
//     answer. Read also passes the group's configs, JSON in a tagged field
//     (0x7C00) of each partition, which only chronik brokers read.
//   - Errors per partition: FENCED_STATE_EPOCH, FENCED_LEADER_EPOCH,
//     GROUP_ID_NOT_FOUND, the coordinator errors.
//   - Authorization: none, as for WriteTxnMarkers: brokers send these
//     requests without credentials (peers.go). A client that can reach
//     the listener can read and overwrite share state; see
//     docs/GROUPS.md.

import (
	"context"
	"encoding/json"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/coordinator"
)

func init() {
	regKey(84, 0, 0, handleReadShareGroupState)
	regKey(85, 0, 1, handleWriteShareGroupState)
}

func handleReadShareGroupState(s *Server, _ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ReadShareGroupStateRequest)
	resp := req.ResponseKind().(*kmsg.ReadShareGroupStateResponse)
	resp.Version = r.version
	for _, t := range req.Topics {
		rt := kmsg.NewReadShareGroupStateResponseTopic()
		rt.TopicID = t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewReadShareGroupStateResponseTopicPartition()
			rp.Partition = p.Partition
			st, cfg, e := s.groups.ReadShareState(req.GroupID, t.TopicID, p.Partition, p.LeaderEpoch)
			if e != nil {
				rp.ErrorCode, rp.ErrorMessage = e.Code, kmsg.StringPtr(e.Message)
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			rp.StateEpoch, rp.StartOffset = st.StateEpoch, st.StartOffset
			for _, b := range st.Batches {
				sb := kmsg.NewReadShareGroupStateResponseTopicPartitionStateBatch()
				sb.FirstOffset, sb.LastOffset, sb.DeliveryState, sb.DeliveryCount = b.First, b.Last, b.State, b.DeliveryCount
				rp.StateBatches = append(rp.StateBatches, sb)
			}
			if cfgJSON, err := json.Marshal(cfg); err == nil {
				rp.UnknownTags.Set(shareConfigTag, cfgJSON)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

func handleWriteShareGroupState(s *Server, _ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.WriteShareGroupStateRequest)
	resp := req.ResponseKind().(*kmsg.WriteShareGroupStateResponse)
	resp.Version = r.version
	for _, t := range req.Topics {
		rt := kmsg.NewWriteShareGroupStateResponseTopic()
		rt.TopicID = t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewWriteShareGroupStateResponseTopicPartition()
			rp.Partition = p.Partition
			st := coordinator.ShareState{StateEpoch: p.StateEpoch, LeaderEpoch: p.LeaderEpoch, StartOffset: p.StartOffset}
			for _, b := range p.StateBatches {
				st.Batches = append(st.Batches, coordinator.ShareStateBatch{First: b.FirstOffset, Last: b.LastOffset, State: b.DeliveryState, DeliveryCount: b.DeliveryCount})
			}
			if e := s.groups.WriteShareState(req.GroupID, t.TopicID, p.Partition, st); e != nil {
				rp.ErrorCode, rp.ErrorMessage = e.Code, kmsg.StringPtr(e.Message)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}
