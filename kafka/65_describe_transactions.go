package kafka

// DescribeTransactions: v0
//
// Behaviour:
//   - Per transactional id coordinated here (KIP-664): state as Kafka
//     names it (Empty, Ongoing, PrepareCommit, PrepareAbort,
//     CompleteCommit, CompleteAbort, ...), timeout, start time of the open
//     transaction (-1 if none; chronik clears it once a transaction
//     completes, where Kafka keeps the last one), producer id and epoch,
//     and the partitions of the transaction by topic.
//   - NOT_COORDINATOR when another broker coordinates the id,
//     COORDINATOR_LOAD_IN_PROGRESS while its partition loads,
//     TRANSACTIONAL_ID_NOT_FOUND for an id that does not exist,
//     COORDINATOR_NOT_AVAILABLE when transactions are unavailable.
//   - Authorization: Describe on the transactional id, else
//     TRANSACTIONAL_ID_AUTHORIZATION_FAILED; topics the principal may not
//     Describe are left out.

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(65, 0, 0, handleDescribeTransactions) }

func handleDescribeTransactions(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	resp.Version = r.version
	for _, id := range req.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID = id
		if !s.authorize(r, acl.Describe, acl.TransactionalID, id) {
			st.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			resp.TransactionStates = append(resp.TransactionStates, st)
			continue
		}
		d, e := s.txns.DescribeTxn(id)
		if e != nil {
			st.ErrorCode = e.Code
			resp.TransactionStates = append(resp.TransactionStates, st)
			continue
		}
		st.State, st.TimeoutMillis, st.StartTimestamp = d.State, d.TimeoutMs, d.StartMs
		st.ProducerID, st.ProducerEpoch = d.ProducerID, d.Epoch
		describable := s.topicAuthorizer(r, acl.Describe)
		for topic, ps := range d.Partitions {
			if !describable.ok(topic) { // left out, as in Kafka
				continue
			}
			tt := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
			tt.Topic, tt.Partitions = topic, ps
			st.Topics = append(st.Topics, tt)
		}
		sort.Slice(st.Topics, func(i, j int) bool { return st.Topics[i].Topic < st.Topics[j].Topic })
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return resp, nil
}
