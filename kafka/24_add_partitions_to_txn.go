package kafka

// AddPartitionsToTxn: v0-5
//
// Behaviour:
//   - Sent to the transaction coordinator of the id (NOT_COORDINATOR
//     otherwise). The partitions join the producer's transaction, which
//     starts (Ongoing) if none is open; the change is written through Raft
//     to __transaction_state before the answer.
//   - Partitions of unknown topics are UNKNOWN_TOPIC_OR_PARTITION and the
//     others of that transaction OPERATION_NOT_ATTEMPTED, as in Kafka.
//   - Every partition of a transaction gets the same answer otherwise:
//     INVALID_PRODUCER_ID_MAPPING for an unknown id or producer id,
//     PRODUCER_FENCED for an old epoch (INVALID_PRODUCER_EPOCH before v2),
//     CONCURRENT_TRANSACTIONS while the previous transaction completes.
//   - v4+ batches transactions; VerifyOnly (KIP-890) changes nothing and
//     answers INVALID_TXN_STATE for partitions not in the open transaction.
//   - Authorization: Write on the transactional id, else
//     TRANSACTIONAL_ID_AUTHORIZATION_FAILED for every partition; Write on each
//     topic, else TOPIC_AUTHORIZATION_FAILED for its partitions and
//     OPERATION_NOT_ATTEMPTED for the others.
//
// Version notes:
//   - v1: no change
//   - v2: PRODUCER_FENCED (KIP-588)
//   - v3: flexible versions
//   - v4: Transactions (batched), VerifyOnly, top-level ErrorCode (KIP-890)
//   - v5: TRANSACTION_ABORTABLE may be returned (never here)

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/coordinator"
)

func init() { regKey(24, 0, 5, handleAddPartitionsToTxn) }

func handleAddPartitionsToTxn(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.AddPartitionsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	resp.Version = r.version
	var named []string // the view covers only the topics the request names
	for _, t := range req.Topics {
		named = append(named, t.Topic)
	}
	for _, tx := range req.Transactions {
		for _, t := range tx.Topics {
			named = append(named, t.Topic)
		}
	}
	v := s.view(named...)
	if r.version < 4 {
		tx := kmsg.AddPartitionsToTxnRequestTransaction{TransactionalID: req.TransactionalID,
			ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch}
		for _, t := range req.Topics {
			tx.Topics = append(tx.Topics, kmsg.AddPartitionsToTxnRequestTransactionTopic{Topic: t.Topic, Partitions: t.Partitions})
		}
		for _, rt := range addPartitionsToTxn(s, r, v, tx) {
			ot := kmsg.AddPartitionsToTxnResponseTopic{Topic: rt.Topic}
			for _, p := range rt.Partitions {
				ot.Partitions = append(ot.Partitions, kmsg.AddPartitionsToTxnResponseTopicPartition{Partition: p.Partition, ErrorCode: p.ErrorCode})
			}
			resp.Topics = append(resp.Topics, ot)
		}
		return resp, nil
	}
	for _, tx := range req.Transactions {
		resp.Transactions = append(resp.Transactions, kmsg.AddPartitionsToTxnResponseTransaction{
			TransactionalID: tx.TransactionalID, Topics: addPartitionsToTxn(s, r, v, tx)})
	}
	return resp, nil
}

// addPartitionsToTxn answers one transaction of the request.
func addPartitionsToTxn(s *Server, r *request, v *metaView, tx kmsg.AddPartitionsToTxnRequestTransaction) []kmsg.AddPartitionsToTxnResponseTransactionTopic {
	version := r.version
	parts := coordinator.TxnPartitions{}
	unknown := false
	for _, t := range tx.Topics {
		for _, p := range t.Partitions {
			if v.partition(t.Topic, p) == nil {
				unknown = true
			}
			parts[t.Topic] = append(parts[t.Topic], p)
		}
	}
	answer := func(code func(topic string, p int32) int16) []kmsg.AddPartitionsToTxnResponseTransactionTopic {
		var out []kmsg.AddPartitionsToTxnResponseTransactionTopic
		for _, t := range tx.Topics {
			rt := kmsg.AddPartitionsToTxnResponseTransactionTopic{Topic: t.Topic}
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, kmsg.AddPartitionsToTxnResponseTransactionTopicPartition{
					Partition: p, ErrorCode: code(t.Topic, p)})
			}
			out = append(out, rt)
		}
		return out
	}
	if !s.authorize(r, acl.Write, acl.TransactionalID, tx.TransactionalID) {
		return answer(func(string, int32) int16 { return kerr.TransactionalIDAuthorizationFailed.Code })
	}
	writable := s.topicAuthorizer(r, acl.Write)
	denied := false
	for _, t := range tx.Topics {
		denied = denied || !writable.ok(t.Topic)
	}
	if denied {
		return answer(func(topic string, _ int32) int16 {
			if !writable.ok(topic) {
				return kerr.TopicAuthorizationFailed.Code
			}
			return kerr.OperationNotAttempted.Code
		})
	}
	if unknown {
		return answer(func(topic string, p int32) int16 {
			if v.partition(topic, p) == nil {
				return kerr.UnknownTopicOrPartition.Code
			}
			return kerr.OperationNotAttempted.Code
		})
	}
	if tx.VerifyOnly {
		missing, e := s.txns.VerifyPartitions(tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, parts)
		return answer(func(topic string, p int32) int16 {
			if e != nil {
				return txnErrCode(e, version, 2)
			}
			for _, mp := range missing[topic] {
				if mp == p {
					return kerr.InvalidTxnState.Code
				}
			}
			return 0
		})
	}
	code := txnErrCode(s.txns.AddPartitions(tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, parts), version, 2)
	return answer(func(string, int32) int16 { return code })
}
