package coordinator

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/testcluster"
)

// TestTxnIDExpiry: an id with no transaction open is deleted once idle for
// IDExpiration, for good (a reload does not bring it back), and its next
// InitProducerID starts afresh with a new producer id; an id with a
// transaction open is kept.
func TestTxnIDExpiry(t *testing.T) {
	cl := testcluster.New(t, 1)
	cfg := testTxnConfig()
	cfg.IDExpiration = 300 * time.Millisecond
	tc := NewTxn(cl.Engine(1), &fakeMarkers{}, cfg, slog.New(slog.DiscardHandler))
	t.Cleanup(tc.Close)
	const idle, open = "tx-idle", "tx-open"
	waitTxnLoaded(t, tc, idle)
	waitTxnLoaded(t, tc, open)
	pid, _ := initTxn(t, tc, idle, -1, -1)
	opid, oe := initTxn(t, tc, open, -1, -1)
	wantErr(t, "add", tc.AddPartitions(open, opid, oe, TxnPartitions{"a": {0}}), nil)

	gone := func() bool {
		tp, e := tc.partitionOf(idle)
		if e != nil {
			t.Fatal(e)
		}
		m := tp.lookup(idle, false)
		if m != nil {
			m.mu.Unlock()
		}
		return m == nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for !gone() {
		if time.Now().After(deadline) {
			t.Fatalf("%q not expired", idle)
		}
		time.Sleep(20 * time.Millisecond)
	}
	reloadTxn(t, tc, idle)
	if !gone() {
		t.Fatalf("%q back after a reload", idle)
	}
	if s, p, _, _ := txnState(t, tc, open); s != kmsg.TransactionStateOngoing || p != opid {
		t.Fatalf("%q: %v producer %d, want Ongoing %d", open, s, p, opid)
	}
	if p, _ := initTxn(t, tc, idle, -1, -1); p == pid {
		t.Fatalf("expired id got its old producer id %d again", p)
	}
}

// TestTxnCompaction: many state changes of few ids are compacted to their
// live records, and a reload after the compaction restores every id.
func TestTxnCompaction(t *testing.T) {
	cl, tc, _ := newTestTxn(t)
	ids := make([]string, 8)
	var tp *txnPartition
	for i := range ids {
		// Ids of one partition.
		for n := 0; ; n++ {
			id := fmt.Sprintf("tx-compact-%d-%d", i, n)
			p := waitTxnLoaded(t, tc, id)
			if tp == nil || p == tp {
				tp, ids[i] = p, id
				break
			}
		}
	}
	pids := map[string]int64{}
	epochs := map[string]int16{}
	for _, id := range ids {
		pids[id], epochs[id] = -1, -1
	}
	for range 130 { // each init writes a record
		for _, id := range ids {
			pids[id], epochs[id] = initTxn(t, tc, id, pids[id], epochs[id])
		}
	}
	before, after, err := tp.compactIfNeeded(context.Background(), tc.be, TxnTopic, tp.p, func() bool { return false })
	if err != nil || before < 1000 || after < len(ids) || after > len(ids)+1 {
		t.Fatalf("compaction: %d records -> %d live, %v; want >= 1000 -> the %d ids", before, after, err, len(ids))
	}
	start, err := cl.Engine(1).ListOffsets(context.Background(), TxnTopic, tp.p, engine.Earliest)
	if err != nil || start.Offset < int64(before)-10 {
		t.Fatalf("log start %d after compacting %d records: %v", start.Offset, before, err)
	}
	reloadTxn(t, tc, ids[0])
	for _, id := range ids {
		if s, p, e, _ := txnState(t, tc, id); s != kmsg.TransactionStateEmpty || p != pids[id] || e != epochs[id] {
			t.Fatalf("%q after compaction and reload: %v %d/%d, want Empty %d/%d", id, s, p, e, pids[id], epochs[id])
		}
	}
}
