package coordinator

// Transactions as a whole, for tools: DescribeTransactions and
// ListTransactions (KIP-664), answered as Kafka's TransactionCoordinator
// and TransactionStateManager answer them.

import (
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TxnDescription is a transactional id's state as DescribeTransactions
// shows it.
type TxnDescription struct {
	ID string
	// State is Kafka's name of the state: Empty, Ongoing, PrepareCommit,
	// PrepareAbort, CompleteCommit, CompleteAbort, PrepareEpochFence.
	State      string
	TimeoutMs  int32
	StartMs    int64 // when the open transaction began (Unix ms), -1 if none
	ProducerID int64
	Epoch      int16
	// Partitions are those of the transaction, sorted; none outside
	// Ongoing and Prepare*.
	Partitions TxnPartitions
}

// TxnListing is one transaction as ListTransactions shows it.
type TxnListing struct {
	ID         string
	ProducerID int64
	State      string // as TxnDescription.State
}

// TxnFilter selects transactions for ListTxns. Its zero value selects all.
type TxnFilter struct {
	// States are state names, matched exactly (Kafka's spelling). Names
	// that are no state are returned as unknown and match nothing; an
	// empty list matches every state.
	States []string
	// ProducerIDs, if not empty, keeps the transactions of these producer
	// ids.
	ProducerIDs []int64
	// ByDuration keeps only the transactions that began more than
	// MinDuration ago (ListTransactions v1 DurationFilterMillis >= 0). An
	// id with no transaction begun (Empty, Complete*: chronik clears the
	// start time there) is not kept; Kafka compares the start time of the
	// last transaction, or -1 for an id that never began one.
	ByDuration  bool
	MinDuration time.Duration
}

// DescribeTxn describes txnID. Errors: NOT_COORDINATOR (another broker
// coordinates it), COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE,
// TRANSACTIONAL_ID_NOT_FOUND (no such id, or Dead), INVALID_REQUEST (an
// empty id).
func (tc *TxnCoordinator) DescribeTxn(txnID string) (TxnDescription, *kerr.Error) {
	d := TxnDescription{ID: txnID, StartMs: -1, ProducerID: -1, Epoch: -1}
	if txnID == "" {
		return d, kerr.InvalidRequest
	}
	tp, e := tc.partitionOf(txnID)
	if e != nil {
		return d, e
	}
	t := tp.lookup(txnID, false)
	if t == nil {
		return d, kerr.TransactionalIDNotFound
	}
	defer t.mu.Unlock()
	if t.producerID < 0 || t.state == kmsg.TransactionStateDead {
		return d, kerr.TransactionalIDNotFound
	}
	return t.describe(), nil
}

// describe is t's description; t.mu is held.
func (t *txnMeta) describe() TxnDescription {
	d := TxnDescription{ID: t.id, State: t.state.String(), TimeoutMs: t.timeoutMs, StartMs: -1,
		ProducerID: t.producerID, Epoch: t.epoch, Partitions: TxnPartitions{}}
	if !t.start.IsZero() {
		d.StartMs = t.start.UnixMilli()
	}
	for _, vt := range topicsOf(t.parts) {
		d.Partitions[vt.Topic] = vt.Partitions
	}
	return d
}

// ListTxns lists the transactional ids this broker coordinates that pass
// f, sorted by id, and the state names of f that are no state. Dead ids
// are never listed. Errors: COORDINATOR_LOAD_IN_PROGRESS while a partition
// led here is loading, COORDINATOR_NOT_AVAILABLE when transactions are
// unavailable.
func (tc *TxnCoordinator) ListTxns(f TxnFilter) ([]TxnListing, []string, *kerr.Error) {
	if tc.be == nil {
		return nil, nil, kerr.CoordinatorNotAvailable
	}
	if tc.set.loading() {
		return nil, nil, kerr.CoordinatorLoadInProgress
	}
	states, unknown := parseTxnStates(f.States)
	now := tc.now()
	var out []TxnListing
	for _, tp := range tc.set.loaded() {
		for _, t := range tp.all() {
			t.mu.Lock()
			if !t.dead && t.producerID >= 0 && f.match(t, states, now) {
				out = append(out, TxnListing{ID: t.id, ProducerID: t.producerID, State: t.state.String()})
			}
			t.mu.Unlock()
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, unknown, nil
}

// parseTxnStates splits state names into the states they name and the
// names that are none (case-sensitive, as Kafka's TransactionState.fromName).
func parseTxnStates(names []string) (map[kmsg.TransactionState]bool, []string) {
	states := map[kmsg.TransactionState]bool{}
	var unknown []string
	for _, n := range names {
		s, err := kmsg.ParseTransactionState(n)
		if err != nil || s.String() != n {
			unknown = append(unknown, n)
			continue
		}
		states[s] = true
	}
	return states, unknown
}

// match reports whether t (locked) passes f, states being f.States parsed.
func (f TxnFilter) match(t *txnMeta, states map[kmsg.TransactionState]bool, now time.Time) bool {
	switch {
	case t.state == kmsg.TransactionStateDead:
		// Being expired: Kafka does not list it.
		return false
	case len(f.ProducerIDs) > 0 && !slices.Contains(f.ProducerIDs, t.producerID):
		return false
	case len(f.States) > 0 && !states[t.state]:
		// Names that are no state match nothing (Kafka's filterStateNames
		// check), so a filter of only unknown names lists nothing.
		return false
	}
	if f.ByDuration && (t.start.IsZero() || now.UnixMilli()-t.start.UnixMilli() <= f.MinDuration.Milliseconds()) {
		return false
	}
	return true
}
