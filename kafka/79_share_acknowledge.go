package kafka

// ShareAcknowledge: v0-2 (KIP-932, KIP-1222)
//
// Behaviour:
//   - Settles records a member acquired through ShareFetch on this broker
//     (the data partition's leader): accept, release (available again, or
//     archived at share.delivery.count.limit), reject (archived), gap, and
//     with IsRenewAck renew (the acquisition lock starts again). All batches
//     of a partition are validated before any is applied: INVALID_REQUEST
//     for malformed batches, INVALID_RECORD_STATE for records the member
//     does not hold. The new state is written to the group's share
//     coordinator through Raft before the answer; when that write fails
//     the acknowledgement is undone and COORDINATOR_NOT_AVAILABLE asks the
//     client to send it again.
//   - Epoch -1 also ends the member's share session on this broker and
//     releases what it still holds on the session's partitions. A
//     ShareAcknowledge at epoch 0: INVALID_SHARE_SESSION_EPOCH.
//     Acknowledgements are applied whether or not this broker still has
//     the session (after a restart it has none).
//   - NOT_LEADER_OR_FOLLOWER carries the CurrentLeader hint and
//     NodeEndpoints.
//   - Authorization: Read on the group, else GROUP_AUTHORIZATION_FAILED;
//     Read on each topic, else TOPIC_AUTHORIZATION_FAILED.
//
// Version notes:
//   - v1: AcquisitionLockTimeoutMillis is not in this request's response
//     until v2.
//   - v2: IsRenewAck.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(79, 0, 2, handleShareAcknowledge) }

func handleShareAcknowledge(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ShareAcknowledgeRequest)
	resp := req.ResponseKind().(*kmsg.ShareAcknowledgeResponse)
	resp.Version = r.version
	resp.AcquisitionLockTimeoutMillis = s.shareLockMs()
	group, member := deref(req.GroupID), deref(req.MemberID)
	switch {
	case !s.authorize(r, acl.Read, acl.Group, group):
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp, nil
	case group == "" || member == "" || len(member) > 36:
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	case req.ShareSessionEpoch == 0:
		resp.ErrorCode = kerr.InvalidShareSessionEpoch.Code
		return resp, nil
	}
	az := s.topicAuthorizer(r, acl.Read)
	maxType := int8(ackReject)
	if req.Version >= 2 && req.IsRenewAck {
		maxType = ackRenew
	}
	hint := false
	for _, t := range req.Topics {
		rt := kmsg.NewShareAcknowledgeResponseTopic()
		rt.TopicID = t.TopicID
		for _, p := range t.Partitions {
			batches := make([]ackBatch, 0, len(p.AcknowledgementBatches))
			for _, b := range p.AcknowledgementBatches {
				batches = append(batches, ackBatch{first: b.FirstOffset, last: b.LastOffset, types: b.AcknowledgeTypes})
			}
			rp := kmsg.NewShareAcknowledgeResponseTopicPartition()
			rp.Partition = p.Partition
			rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = -1, -1
			code, id, epoch := s.shareAck(ctx, az, spKey{group, t.TopicID, p.Partition}, member, batches, maxType)
			rp.ErrorCode = code
			if code == kerr.NotLeaderForPartition.Code && id >= 0 {
				rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = id, epoch
				hint = true
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if req.ShareSessionEpoch == -1 {
		skey := [2]string{group, member}
		s.shares.mu.Lock()
		sess := s.shares.sessions[skey]
		delete(s.shares.sessions, skey)
		s.shares.mu.Unlock()
		if sess != nil {
			var keys []spKey
			for k := range sess.parts {
				keys = append(keys, k)
			}
			s.releaseShareSession(keys, member)
		}
	}
	if hint {
		v := s.brokerView()
		for id := range v.brokers {
			if ep, ok := v.endpoint(id, r.listener); ok {
				ne := kmsg.NewShareAcknowledgeResponseNodeEndpoint()
				ne.NodeID, ne.Host, ne.Port, ne.Rack = ep.id, ep.host, ep.port, ep.rack
				resp.NodeEndpoints = append(resp.NodeEndpoints, ne)
			}
		}
	}
	return resp, nil
}
