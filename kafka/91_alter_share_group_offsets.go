package kafka

// AlterShareGroupOffsets: v0 (KIP-932)
//
// Behaviour:
//   - On the group's coordinator, for an empty share group (created if it
//     does not exist): sets the start offset of each named partition and
//     drops its in-flight state, written through Raft. The state epoch is
//     bumped, so a partition leader still holding the old state is fenced
//     and reads the new one.
//   - While the coordinator loads (or __consumer_offsets is being created)
//     the request waits up to 10 s rather than answering
//     COORDINATOR_LOAD_IN_PROGRESS, which clients do not retry here.
//   - NON_EMPTY_GROUP while the group has members; GROUP_ID_NOT_FOUND when
//     a consumer group has the name; UNKNOWN_TOPIC_OR_PARTITION per
//     partition that does not exist.
//   - Authorization: Read on the group, else GROUP_AUTHORIZATION_FAILED;
//     Read on each topic, else TOPIC_AUTHORIZATION_FAILED.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/coordinator"
)

func handleAlterShareGroupOffsets(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.AlterShareGroupOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.AlterShareGroupOffsetsResponse)
	resp.Version = r.version
	if !s.authorize(r, acl.Read, acl.Group, req.GroupID) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp, nil
	}
	v := s.view()
	az := s.topicAuthorizer(r, acl.Read)
	var offs []coordinator.ShareOffset
	var okParts []*kmsg.AlterShareGroupOffsetsResponseTopicPartition
	for _, rt := range req.Topics {
		t := kmsg.NewAlterShareGroupOffsetsResponseTopic()
		t.Topic = rt.Topic
		ti := v.byName[rt.Topic]
		if ti != nil {
			t.TopicID = ti.ID
		}
		for _, p := range rt.Partitions {
			rp := kmsg.NewAlterShareGroupOffsetsResponseTopicPartition()
			rp.Partition = p.Partition
			switch {
			case !az.ok(rt.Topic):
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case v.partition(rt.Topic, p.Partition) == nil:
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				offs = append(offs, coordinator.ShareOffset{Topic: ti.ID, Partition: p.Partition, StartOffset: p.StartOffset})
			}
			t.Partitions = append(t.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, t)
	}
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if resp.Topics[i].Partitions[j].ErrorCode == 0 {
				okParts = append(okParts, &resp.Topics[i].Partitions[j])
			}
		}
	}
	if e := asKerr(retryLoading(ctx, false, func() error { return kerrOrNil(s.groups.AlterShareGroupOffsets(req.GroupID, offs)) })); e != nil {
		resp.ErrorCode, resp.ErrorMessage = e.Code, kmsg.StringPtr(e.Message)
		for _, rp := range okParts {
			rp.ErrorCode = e.Code
		}
	}
	return resp, nil
}
