package kafka

// TxnOffsetCommit: v0-4
//
// Behaviour:
//   - Sent to the group's coordinator by a transactional producer, after
//     AddOffsetsToTxn put the group's __consumer_offsets partition in its
//     transaction. The offsets are written through Raft to that partition
//     as a transactional batch of the producer and stay pending: they
//     become the group's committed offsets when the transaction commits
//     (its marker reaches the partition) and are dropped if it aborts.
//     Meanwhile OffsetFetch with RequireStable answers
//     UNSTABLE_OFFSET_COMMIT for their partitions.
//   - Without a member id (v0-2, or an empty one) the commit is not
//     checked against the group, which it creates if needed; a member must
//     be known (UNKNOWN_MEMBER_ID) and, with a generation, at the group's
//     (ILLEGAL_GENERATION; also for a generation of a group that does not
//     exist); a static member's instance id must match
//     (FENCED_INSTANCE_ID).
//   - An epoch older than one the producer committed pending offsets with
//     is INVALID_PRODUCER_EPOCH; partitions of unknown topics are
//     UNKNOWN_TOPIC_OR_PARTITION; metadata over GroupConfig.MaxMetadataBytes
//     is OFFSET_METADATA_TOO_LARGE.
//   - Authorization: Write on the transactional id and Read on the group, else
//     TRANSACTIONAL_ID_ or GROUP_AUTHORIZATION_FAILED for every partition;
//     Read on each topic, else TOPIC_AUTHORIZATION_FAILED for its partitions.
//
// Version notes:
//   - v1: no change
//   - v2: LeaderEpoch per partition
//   - v3: Generation, MemberID, InstanceID (KIP-447); flexible versions
//   - v4: TRANSACTION_ABORTABLE may be returned (KIP-890; never here)

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(28, 0, 4, handleTxnOffsetCommit) }

func handleTxnOffsetCommit(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.TxnOffsetCommitRequest)
	switch {
	case !s.authorize(r, acl.Write, acl.TransactionalID, req.TransactionalID):
		return txnCommitRefused(req, kerr.TransactionalIDAuthorizationFailed.Code, req.Topics), nil
	case !s.authorize(r, acl.Read, acl.Group, req.Group):
		return txnCommitRefused(req, kerr.GroupAuthorizationFailed.Code, req.Topics), nil
	}
	// Topics the principal may not Read answer TOPIC_AUTHORIZATION_FAILED
	// and are not committed.
	readable := s.topicAuthorizer(r, acl.Read)
	denied := splitDenied(&readable, &req.Topics, func(t kmsg.TxnOffsetCommitRequestTopic) string { return t.Topic })
	resp := s.groups.TxnCommitOffsets(req, s.partitionKnown())
	resp.Topics = append(resp.Topics, txnCommitRefused(req, kerr.TopicAuthorizationFailed.Code, denied).Topics...)
	return resp, nil
}

// txnCommitRefused answers topics' partitions with code.
func txnCommitRefused(req *kmsg.TxnOffsetCommitRequest, code int16, topics []kmsg.TxnOffsetCommitRequestTopic) *kmsg.TxnOffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	resp.Version = req.Version
	for _, t := range topics {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
