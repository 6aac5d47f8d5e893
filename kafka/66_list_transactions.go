package kafka

// ListTransactions: v0-1
//
// Behaviour:
//   - Lists the transactional ids this broker coordinates (clients ask
//     every broker and merge; KIP-664) with producer id and state, filtered
//     by StateFilters (state names spelled exactly as Kafka does; names
//     that are no state come back in UnknownStateFilters and match
//     nothing) and ProducerIDFilters. Dead ids are not listed.
//   - COORDINATOR_LOAD_IN_PROGRESS while a __transaction_state partition
//     led here is loading; COORDINATOR_NOT_AVAILABLE when transactions are
//     unavailable.
//   - Authorization: only the transactional ids the principal may Describe are
//     listed.
//
// Version notes:
//   - v1: DurationFilterMillis (KIP-994): when >= 0, only transactions
//     begun more than that long ago. An id with no transaction open has no
//     start time here and is left out (Kafka compares the start of its
//     last transaction).
//   - v2 (TransactionalIDPattern, KIP-1152) is not served.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/coordinator"
)

func init() { regKey(66, 0, 1, handleListTransactions) }

func handleListTransactions(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	resp.Version = r.version
	f := coordinator.TxnFilter{States: req.StateFilters, ProducerIDs: req.ProducerIDFilters}
	if r.version >= 1 && req.DurationFilterMillis >= 0 {
		f.ByDuration, f.MinDuration = true, time.Duration(req.DurationFilterMillis)*time.Millisecond
	}
	txns, unknown, e := s.txns.ListTxns(f)
	if e != nil {
		resp.ErrorCode = e.Code
		return resp, nil
	}
	resp.UnknownStateFilters = unknown
	for _, t := range txns {
		if !s.authorize(r, acl.Describe, acl.TransactionalID, t.ID) {
			continue // listed only when the principal may Describe it
		}
		st := kmsg.NewListTransactionsResponseTransactionState()
		st.TransactionalID, st.ProducerID, st.TransactionState = t.ID, t.ProducerID, t.State
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return resp, nil
}
