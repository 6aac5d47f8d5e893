package kafka

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// describeTxn describes one transactional id through kadm.
func describeTxn(t *testing.T, adm *kadm.Client, id string) kadm.DescribedTransaction {
	t.Helper()
	ds, err := adm.DescribeTransactions(testCtx(t, 20*time.Second), id)
	if err != nil {
		t.Fatalf("DescribeTransactions(%s): %v", id, err)
	}
	d, ok := ds[id]
	if !ok {
		t.Fatalf("DescribeTransactions(%s): not in %v", id, ds)
	}
	return d
}

// listTxns lists transactional ids through kadm.
func listTxns(t *testing.T, adm *kadm.Client, pids []int64, states []string) []string {
	t.Helper()
	ls, err := adm.ListTransactions(testCtx(t, 20*time.Second), pids, states)
	if err != nil {
		t.Fatalf("ListTransactions(%v, %v): %v", pids, states, err)
	}
	var ids []string
	for _, l := range ls.Sorted() {
		ids = append(ids, l.TxnID)
	}
	return ids
}

// producersOn describes the producers of one partition through kadm.
func producersOn(t *testing.T, adm *kadm.Client, topic string, p int32) kadm.DescribedProducersPartition {
	t.Helper()
	s := kadm.TopicsSet{}
	s.Add(topic, p)
	ds, err := adm.DescribeProducers(testCtx(t, 20*time.Second), s)
	if err != nil {
		t.Fatalf("DescribeProducers(%s/%d): %v", topic, p, err)
	}
	dp, ok := ds[topic].Partitions[p]
	if !ok || dp.Err != nil {
		t.Fatalf("DescribeProducers(%s/%d): %+v", topic, p, dp)
	}
	return dp
}

// TestTxnAdminKgo: a kgo transactional producer's open transaction shows
// as Ongoing with its partitions in DescribeTransactions and
// ListTransactions, and in DescribeProducers with its start offset; after
// the commit the transaction is CompleteCommit and the partitions have no
// open transaction. Also the filters and errors of the three APIs.
func TestTxnAdminKgo(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	kc := newKafkaCluster(t, 1, Config{})
	const topic, id = "txadm", "adm-1"
	kc.CreateTopic(t, topic, engine.TopicConfig{Partitions: 3})
	ctx := testCtx(t, time.Minute)
	adm := kc.admin(t)
	cl := kc.client(t, kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionTimeout(30*time.Second))

	// An idempotent record first, so the transaction starts past offset 0.
	plain := kc.client(t, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte("p"), Partition: 0}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	before := time.Now().UnixMilli()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*kgo.Record{{Value: []byte("a"), Partition: 0}, {Value: []byte("b"), Partition: 0}, {Value: []byte("c"), Partition: 1}} {
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	pid, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}

	d := describeTxn(t, adm, id)
	want := kadm.TopicsSet{}
	want.Add(topic, 0, 1)
	if d.Err != nil || d.State != "Ongoing" || d.ProducerID != pid || d.ProducerEpoch != epoch ||
		d.TimeoutMillis != 30000 || d.StartTimestamp < before || !reflect.DeepEqual(d.Topics, want) {
		t.Fatalf("open transaction: %+v, want Ongoing on %v by %d/%d, timeout 30000, started after %d", d, want, pid, epoch, before)
	}
	if got := listTxns(t, adm, nil, []string{"Ongoing"}); !slices.Equal(got, []string{id}) {
		t.Fatalf("Ongoing transactions: %v", got)
	}
	plainID, _, err := plain.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dp := producersOn(t, adm, topic, 0)
	if len(dp.ActiveProducers) != 2 {
		t.Fatalf("producers of partition 0: %+v, want the idempotent and the transactional one", dp.ActiveProducers)
	}
	if pr := dp.ActiveProducers[plainID]; pr.ProducerEpoch != 0 || pr.LastSequence != 0 || pr.CurrentTxnStartOffset != -1 ||
		pr.CoordinatorEpoch != -1 || pr.LastTimestamp <= 0 || pr.LastTimestamp > before {
		t.Fatalf("idempotent producer %d on partition 0: %+v, want epoch 0, last sequence 0, no transaction", plainID, pr)
	}
	if pr := dp.ActiveProducers[pid]; pr.ProducerEpoch != epoch || pr.LastSequence != 1 || pr.CurrentTxnStartOffset != 1 ||
		pr.CoordinatorEpoch != -1 || pr.LastTimestamp < before || pr.LastTimestamp > time.Now().UnixMilli() {
		t.Fatalf("producer on partition 0 in the transaction: %+v, want %d/%d, last sequence 1, txn start 1, no coordinator epoch", pr, pid, epoch)
	}
	if dp := producersOn(t, adm, topic, 2); len(dp.ActiveProducers) != 0 {
		t.Fatalf("producers of partition 2, not written: %+v", dp.ActiveProducers)
	}

	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for d = describeTxn(t, adm, id); d.State != "CompleteCommit"; d = describeTxn(t, adm, id) {
		if time.Now().After(deadline) {
			t.Fatalf("after commit: %+v, want CompleteCommit", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d.ProducerID != pid || d.ProducerEpoch != epoch || len(d.Topics) != 0 {
		t.Fatalf("committed transaction: %+v", d)
	}
	for _, p := range []int32{0, 1} {
		for _, pr := range producersOn(t, adm, topic, p).ActiveProducers {
			if pr.ProducerID == plainID {
				continue
			}
			if pr.ProducerID != pid || pr.CurrentTxnStartOffset != -1 || pr.CoordinatorEpoch < 0 || pr.LastTimestamp < before {
				t.Fatalf("producer on partition %d after the commit: %+v, want no transaction and a coordinator epoch", p, pr)
			}
		}
	}

	// ListTransactions filters, through kadm.
	for _, c := range []struct {
		pids   []int64
		states []string
		want   []string
	}{
		{nil, nil, []string{id}},
		{nil, []string{"CompleteCommit"}, []string{id}},
		{nil, []string{"Ongoing", "Empty"}, nil},
		{[]int64{pid}, nil, []string{id}},
		{[]int64{pid + 1}, nil, nil},
		{[]int64{pid}, []string{"CompleteCommit", "Bogus"}, []string{id}},
	} {
		if got := listTxns(t, adm, c.pids, c.states); !slices.Equal(got, c.want) {
			t.Errorf("ListTransactions(%v, %v): %v, want %v", c.pids, c.states, got, c.want)
		}
	}

	// What kadm hides: unknown state filters, the v1 duration filter, and
	// per-partition errors.
	rc := dialRaw(t, kc.addrs[1])
	list := func(v int16, states []string, durationMs int64) *kmsg.ListTransactionsResponse {
		req := kmsg.NewPtrListTransactionsRequest()
		req.SetVersion(v)
		req.StateFilters, req.DurationFilterMillis = states, durationMs
		return roundTrip[*kmsg.ListTransactionsResponse](rc, req)
	}
	if r := list(0, []string{"Bogus", "CompleteCommit"}, -1); r.ErrorCode != 0 || !slices.Equal(r.UnknownStateFilters, []string{"Bogus"}) || len(r.TransactionStates) != 1 {
		t.Errorf("ListTransactions v0 with an unknown state: %+v", r)
	}
	if r := list(0, []string{"Bogus"}, -1); len(r.TransactionStates) != 0 {
		t.Errorf("ListTransactions v0 with only an unknown state: %+v", r.TransactionStates)
	}
	if r := list(1, nil, 0); r.ErrorCode != 0 || len(r.TransactionStates) != 0 {
		t.Errorf("ListTransactions v1, running for more than 0 ms, none open: %+v", r)
	}
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("d"), Partition: 2}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if r := list(1, nil, 0); len(r.TransactionStates) != 1 || r.TransactionStates[0].TransactionState != "Ongoing" {
		t.Errorf("ListTransactions v1, running for more than 0 ms, one open: %+v", r.TransactionStates)
	}
	if r := list(1, nil, time.Hour.Milliseconds()); len(r.TransactionStates) != 0 {
		t.Errorf("ListTransactions v1, running for more than an hour: %+v", r.TransactionStates)
	}
	if r := list(0, nil, 0); len(r.TransactionStates) != 1 {
		t.Errorf("ListTransactions v0 has no duration filter: %+v", r.TransactionStates)
	}
	if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}

	// The id's __transaction_state partition may not have reported a
	// leader yet (FindCoordinator: COORDINATOR_NOT_AVAILABLE, which kadm
	// returns as a shard error): retry that.
	deadline = time.Now().Add(10 * time.Second)
	for {
		d, err := adm.DescribeTransactions(ctx, "no-such-id")
		if err != nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if err != nil || !reflect.DeepEqual(d["no-such-id"].Err, kerr.TransactionalIDNotFound) {
			t.Errorf("DescribeTransactions of an unknown id: %+v, %v", d, err)
		}
		break
	}
	dreq := kmsg.NewPtrDescribeProducersRequest()
	for _, tp := range []struct {
		topic string
		p     int32
	}{{"no-such-topic", 0}, {topic, 9}} {
		rt := kmsg.NewDescribeProducersRequestTopic()
		rt.Topic, rt.Partitions = tp.topic, []int32{tp.p}
		dreq.Topics = append(dreq.Topics, rt)
	}
	dresp := roundTrip[*kmsg.DescribeProducersResponse](rc, dreq)
	if len(dresp.Topics) != 2 {
		t.Fatalf("DescribeProducers of two unknown partitions: %+v", dresp)
	}
	for _, rt := range dresp.Topics {
		if len(rt.Partitions) != 1 || rt.Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("DescribeProducers of %s: %+v, want UNKNOWN_TOPIC_OR_PARTITION", rt.Topic, rt.Partitions)
		}
	}
}

// TestTxnAdminThreeNodes: DescribeProducers on a broker that does not lead
// the partition is NOT_LEADER_OR_FOLLOWER, DescribeTransactions on one that
// does not coordinate the id NOT_COORDINATOR; kadm finds the right
// brokers.
func TestTxnAdminThreeNodes(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	kc := newKafkaCluster(t, 3, Config{})
	const topic, id = "txadm3", "adm-3"
	kc.CreateTopic(t, topic, engine.TopicConfig{Partitions: 1, ReplicationFactor: 3})
	ctx := testCtx(t, time.Minute)
	cl := kc.client(t, kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, kgo.StringRecord("x")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pid, _, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	adm := kc.admin(t)
	if d := describeTxn(t, adm, id); d.State != "Ongoing" || d.ProducerID != pid {
		t.Fatalf("through kadm: %+v", d)
	}
	if got := listTxns(t, adm, nil, nil); !slices.Equal(got, []string{id}) {
		t.Fatalf("ListTransactions across brokers: %v", got)
	}
	if dp := producersOn(t, adm, topic, 0); len(dp.ActiveProducers) != 1 || dp.ActiveProducers.Sorted()[0].CurrentTxnStartOffset != 0 {
		t.Fatalf("DescribeProducers through kadm: %+v", dp)
	}

	var leaders, coordinators int
	for n := 1; n <= 3; n++ {
		rc := dialRaw(t, kc.addrs[n])
		dreq := kmsg.NewPtrDescribeProducersRequest()
		rt := kmsg.NewDescribeProducersRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{0}
		dreq.Topics = append(dreq.Topics, rt)
		dp := roundTrip[*kmsg.DescribeProducersResponse](rc, dreq).Topics[0].Partitions[0]
		switch dp.ErrorCode {
		case 0:
			leaders++
			if len(dp.ActiveProducers) != 1 || dp.ActiveProducers[0].ProducerID != pid {
				t.Errorf("node %d, the leader: %+v", n, dp)
			}
		case kerr.NotLeaderForPartition.Code:
		default:
			t.Errorf("node %d: DescribeProducers error %v", n, kerr.ErrorForCode(dp.ErrorCode))
		}

		treq := kmsg.NewPtrDescribeTransactionsRequest()
		treq.TransactionalIDs = []string{id}
		st := roundTrip[*kmsg.DescribeTransactionsResponse](rc, treq).TransactionStates[0]
		switch st.ErrorCode {
		case 0:
			coordinators++
			if st.State != "Ongoing" || st.ProducerID != pid || len(st.Topics) != 1 || st.Topics[0].Topic != topic {
				t.Errorf("node %d, the coordinator: %+v", n, st)
			}
		case kerr.NotCoordinator.Code:
		default:
			t.Errorf("node %d: DescribeTransactions error %v", n, kerr.ErrorForCode(st.ErrorCode))
		}
	}
	if leaders != 1 || coordinators != 1 {
		t.Fatalf("%d brokers answered DescribeProducers and %d DescribeTransactions, want 1 each", leaders, coordinators)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
}
