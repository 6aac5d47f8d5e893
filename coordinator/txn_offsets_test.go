package coordinator

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnCommit sends a TxnOffsetCommit v3 without membership of offset for
// partition p of topic "t" and returns its error.
func txnCommit(c *Coordinator, group string, pid int64, epoch int16, p int32, offset int64) error {
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.SetVersion(3)
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch, req.Generation = "tx", group, pid, epoch, -1
	req.Topics = []kmsg.TxnOffsetCommitRequestTopic{{Topic: "t",
		Partitions: []kmsg.TxnOffsetCommitRequestTopicPartition{{Partition: p, Offset: offset, LeaderEpoch: -1}}}}
	return kerr.ErrorForCode(c.TxnCommitOffsets(req, anyPartition).Topics[0].Partitions[0].ErrorCode)
}

// fetchOffset is the group's offset of partition p of "t" (-1: none) and
// its error, asking for stable offsets.
func fetchOffset(t *testing.T, c *Coordinator, group string, p int32) (int64, *kerr.Error) {
	t.Helper()
	offs, e := c.FetchOffsets(group, map[string][]int32{"t": {p}}, true)
	if e != nil {
		t.Fatalf("FetchOffsets: %v", e)
	}
	po := offs[0].Partitions[0]
	return po.Offset, po.Err
}

// awaitOffset waits until the stable offset of p is want.
func awaitOffset(t *testing.T, c *Coordinator, group string, p int32, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		off, e := fetchOffset(t, c, group, p)
		if e == nil && off == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("partition %d: offset %d (%v), want %d", p, off, e, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTxnOffsetCommit: offsets committed in a transaction are pending
// (UNSTABLE_OFFSET_COMMIT to stable fetches) until the producer's marker
// reaches the group's partition; a commit marker makes them the group's
// offsets, an abort drops them; pending offsets and markers survive a
// reload; a later plain commit wins over an earlier transactional one; an
// older producer epoch is refused once a marker fenced it.
func TestTxnOffsetCommit(t *testing.T) {
	cl, c := newTestCoordinator(t, testConfig())
	const group = "txn-offsets"
	cp := waitLoaded(t, c, group)
	eng := cl.Engine(1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pid, epoch, err := eng.AllocateProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	marker := func(epoch int16, commit bool) {
		t.Helper()
		if err := eng.WriteTxnMarker(ctx, OffsetsTopic, cp.p, pid, epoch, commit, 0); err != nil {
			t.Fatalf("marker: %v", err)
		}
	}

	// Committed transaction.
	if e := txnCommit(c, group, pid, epoch, 0, 10); e != nil {
		t.Fatalf("TxnOffsetCommit: %v", e)
	}
	if off, e := fetchOffset(t, c, group, 0); e != kerr.UnstableOffsetCommit {
		t.Fatalf("pending offset: %d %v, want UNSTABLE_OFFSET_COMMIT", off, e)
	}
	if offs, _ := c.FetchOffsets(group, map[string][]int32{"t": {0}}, false); offs[0].Partitions[0].Offset != -1 {
		t.Fatalf("pending offset visible to an unstable fetch: %+v", offs)
	}
	marker(epoch, true)
	awaitOffset(t, c, group, 0, 10)

	// Aborted transaction: the offset stays.
	if e := txnCommit(c, group, pid, epoch, 0, 20); e != nil {
		t.Fatalf("TxnOffsetCommit: %v", e)
	}
	marker(epoch, false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		off, e := fetchOffset(t, c, group, 0)
		if e == nil {
			if off != 10 {
				t.Fatalf("after abort: offset %d, want 10", off)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still pending after the abort marker: %v", e)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Pending across a reload, then committed; the marker of a reloaded
	// partition is found by the new tail.
	if e := txnCommit(c, group, pid, epoch, 1, 30); e != nil {
		t.Fatalf("TxnOffsetCommit: %v", e)
	}
	reload(t, c, group)
	if _, e := fetchOffset(t, c, group, 1); e != kerr.UnstableOffsetCommit {
		t.Fatalf("pending offset after reload: %v, want UNSTABLE_OFFSET_COMMIT", e)
	}
	marker(epoch, true)
	awaitOffset(t, c, group, 1, 30)

	// Committed while the partition was not loaded: the replay applies the
	// marker.
	if e := txnCommit(c, group, pid, epoch, 2, 40); e != nil {
		t.Fatalf("TxnOffsetCommit: %v", e)
	}
	marker(epoch, true)
	reload(t, c, group)
	awaitOffset(t, c, group, 2, 40)
	awaitOffset(t, c, group, 0, 10)

	// A plain commit after the transactional one wins.
	if e := txnCommit(c, group, pid, epoch, 3, 50); e != nil {
		t.Fatalf("TxnOffsetCommit: %v", e)
	}
	plain := kmsg.NewPtrOffsetCommitRequest()
	plain.SetVersion(8)
	plain.Group, plain.Generation = group, -1
	plain.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 3, Offset: 60}}}}
	if code := c.CommitOffsets(plain, anyPartition).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("OffsetCommit: %v", kerr.ErrorForCode(code))
	}
	marker(epoch, true)
	awaitOffset(t, c, group, 3, 60)
	reload(t, c, group)
	awaitOffset(t, c, group, 3, 60)

	// A marker of a newer epoch fences the old one.
	marker(epoch+1, false)
	if e := txnCommit(c, group, pid, epoch, 0, 70); !errors.Is(e, kerr.InvalidProducerEpoch) {
		t.Fatalf("TxnOffsetCommit of a fenced epoch: %v, want INVALID_PRODUCER_EPOCH", e)
	}
	awaitOffset(t, c, group, 0, 10)
}

// TestTxnOffsetCommitErrors: a TxnOffsetCommit is checked against the
// group as Kafka checks it.
func TestTxnOffsetCommitErrors(t *testing.T) {
	_, c := newTestCoordinator(t, testConfig())
	member, gen := joined(t, c, "txn-errs")
	req := func(group, memberID string, generation int32, instance *string) error {
		r := kmsg.NewPtrTxnOffsetCommitRequest()
		r.SetVersion(3)
		r.TransactionalID, r.Group, r.ProducerID, r.ProducerEpoch = "tx", group, 1, 0
		r.MemberID, r.Generation, r.InstanceID = memberID, generation, instance
		r.Topics = []kmsg.TxnOffsetCommitRequestTopic{{Topic: "t",
			Partitions: []kmsg.TxnOffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}}}
		return kerr.ErrorForCode(c.TxnCommitOffsets(r, func(topic string, _ int32) bool { return topic == "t" }).Topics[0].Partitions[0].ErrorCode)
	}
	waitLoaded(t, c, "txn-none")
	for _, tc := range []struct {
		name       string
		group      string
		member     string
		generation int32
		instance   *string
		want       error
	}{
		{"unknown member", "txn-errs", "nobody", gen, nil, kerr.UnknownMemberID},
		{"old generation", "txn-errs", member, gen - 1, nil, kerr.IllegalGeneration},
		{"generation of a group that does not exist", "txn-none", "", 3, nil, kerr.IllegalGeneration},
		{"static instance not registered", "txn-errs", member, gen, kmsg.StringPtr("nope"), kerr.UnknownMemberID},
		{"empty group id", "", "", -1, nil, kerr.InvalidGroupID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := req(tc.group, tc.member, tc.generation, tc.instance); !errors.Is(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	r := kmsg.NewPtrTxnOffsetCommitRequest()
	r.SetVersion(3)
	r.Group, r.ProducerID, r.ProducerEpoch, r.Generation = "txn-errs", 1, 0, -1
	r.Topics = []kmsg.TxnOffsetCommitRequestTopic{{Topic: "gone", Partitions: []kmsg.TxnOffsetCommitRequestTopicPartition{{Partition: 0}}}}
	if code := c.TxnCommitOffsets(r, func(string, int32) bool { return false }).Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: %v", kerr.ErrorForCode(code))
	}
}
