package coordinator

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/internal/testcluster"
)

// marker is one WriteTxnMarker call that succeeded.
type marker struct {
	topic     string
	partition int32
	pid       int64
	epoch     int16
	commit    bool
}

// fakeMarkers records markers; while failing is set every write fails.
type fakeMarkers struct {
	mu      sync.Mutex
	failing bool
	fails   int
	written []marker
}

func (f *fakeMarkers) WriteTxnMarker(_ context.Context, topic string, partition int32, pid int64, epoch int16, commit bool, _ int32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing {
		f.fails++
		return errors.New("fake: not leader")
	}
	f.written = append(f.written, marker{topic, partition, pid, epoch, commit})
	return nil
}

func (f *fakeMarkers) setFailing(b bool) { f.mu.Lock(); f.failing = b; f.mu.Unlock() }

func (f *fakeMarkers) failures() int { f.mu.Lock(); defer f.mu.Unlock(); return f.fails }

func (f *fakeMarkers) markers() []marker {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]marker(nil), f.written...)
}

func testTxnConfig() TxnConfig {
	return TxnConfig{TopicPartitions: 4, PollInterval: 20 * time.Millisecond,
		AbortCheckInterval: 50 * time.Millisecond, MarkerRetryBackoff: 10 * time.Millisecond, MaxTimeout: time.Minute}
}

func newTestTxn(t *testing.T) (*testcluster.Cluster, *TxnCoordinator, *fakeMarkers) {
	t.Helper()
	cl := testcluster.New(t, 1)
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	fm := &fakeMarkers{}
	tc := NewTxn(cl.Engine(1), fm, testTxnConfig(), log)
	t.Cleanup(tc.Close)
	return cl, tc, fm
}

// waitTxnLoaded creates __transaction_state if needed and waits until id's
// partition is loaded.
func waitTxnLoaded(t *testing.T, tc *TxnCoordinator, id string) *txnPartition {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, e := tc.Locate(id); e == nil {
			if tp, e := tc.partitionOf(id); e == nil {
				return tp
			}
		}
		if time.Now().After(deadline) {
			_, e := tc.partitionOf(id)
			t.Fatalf("partition of %q not loaded: %v", id, e)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reloadTxn unloads id's partition and waits until the watcher has loaded
// it again from the log, as a new leader would.
func reloadTxn(t *testing.T, tc *TxnCoordinator, id string) {
	t.Helper()
	tp, e := tc.partitionOf(id)
	if e != nil {
		t.Fatal(e)
	}
	tc.set.mu.Lock()
	delete(tc.set.parts, tp.p)
	tc.set.mu.Unlock()
	tp.unload()
	waitTxnLoaded(t, tc, id)
}

// txnState returns id's state.
func txnState(t *testing.T, tc *TxnCoordinator, id string) (kmsg.TransactionState, int64, int16, int) {
	t.Helper()
	tp, e := tc.partitionOf(id)
	if e != nil {
		t.Fatal(e)
	}
	m := tp.lookup(id, false)
	if m == nil {
		t.Fatalf("%q unknown", id)
	}
	defer m.mu.Unlock()
	return m.state, m.producerID, m.epoch, len(m.parts)
}

// waitState waits until id is in state s.
func waitState(t *testing.T, tc *TxnCoordinator, id string, s kmsg.TransactionState) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _, _, _ := txnState(t, tc, id)
		if got == s {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q in state %v, want %v", id, got, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func wantErr(t *testing.T, what string, got, want *kerr.Error) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
}

func initTxn(t *testing.T, tc *TxnCoordinator, id string, pid int64, epoch int16) (int64, int16) {
	t.Helper()
	p, e, err := tc.InitProducerID(context.Background(), id, 10000, pid, epoch)
	if err != nil {
		t.Fatalf("InitProducerID(%q): %v", id, err)
	}
	return p, e
}

func TestTxnCommitAndFence(t *testing.T) {
	_, tc, fm := newTestTxn(t)
	const id = "tx-commit"
	waitTxnLoaded(t, tc, id)
	_, _, e := tc.InitProducerID(context.Background(), id, int32(2*time.Minute/time.Millisecond), -1, -1)
	wantErr(t, "timeout above max", e, kerr.InvalidTransactionTimeout)
	_, _, e = tc.InitProducerID(context.Background(), id, 0, -1, -1)
	wantErr(t, "zero timeout", e, kerr.InvalidTransactionTimeout)
	wantErr(t, "EndTxn of unknown id", tc.EndTxn(id, 1, 0, true), kerr.InvalidProducerIDMapping)

	pid, e0 := initTxn(t, tc, id, -1, -1)
	if e0 != 0 {
		t.Fatalf("first epoch %d", e0)
	}
	wantErr(t, "EndTxn with no transaction", tc.EndTxn(id, pid, e0, true), kerr.InvalidTxnState)
	pid1, e1 := initTxn(t, tc, id, -1, -1)
	if pid1 != pid || e1 != 1 {
		t.Fatalf("second init: %d/%d, want %d/1", pid1, e1, pid)
	}
	parts := TxnPartitions{"a": {0, 1}, "b": {3}}
	wantErr(t, "add with fenced epoch", tc.AddPartitions(id, pid, e0, parts), kerr.ProducerFenced)
	wantErr(t, "add with other pid", tc.AddPartitions(id, pid+100, e1, parts), kerr.InvalidProducerIDMapping)
	wantErr(t, "add", tc.AddPartitions(id, pid, e1, parts), nil)
	wantErr(t, "add again", tc.AddPartitions(id, pid, e1, TxnPartitions{"a": {1}}), nil)
	missing, e := tc.VerifyPartitions(id, pid, e1, TxnPartitions{"a": {0, 2}})
	if e != nil || len(missing) != 1 || len(missing["a"]) != 1 || missing["a"][0] != 2 {
		t.Fatalf("verify: %v %v, want a/2 missing", missing, e)
	}
	if s, _, _, n := txnState(t, tc, id); s != kmsg.TransactionStateOngoing || n != 3 {
		t.Fatalf("state %v with %d partitions, want Ongoing with 3", s, n)
	}
	wantErr(t, "commit", tc.EndTxn(id, pid, e1, true), nil)
	waitState(t, tc, id, kmsg.TransactionStateCompleteCommit)
	ms := fm.markers()
	if len(ms) != 3 {
		t.Fatalf("markers %v, want 3", ms)
	}
	for _, m := range ms {
		if !m.commit || m.pid != pid || m.epoch != e1 {
			t.Fatalf("marker %+v, want commit by %d/%d", m, pid, e1)
		}
	}
	wantErr(t, "commit retry", tc.EndTxn(id, pid, e1, true), nil)
	wantErr(t, "abort after commit", tc.EndTxn(id, pid, e1, false), kerr.InvalidTxnState)
	wantErr(t, "commit fenced", tc.EndTxn(id, pid, e0, true), kerr.ProducerFenced)

	// A second transaction, aborted.
	wantErr(t, "add 2", tc.AddPartitions(id, pid, e1, TxnPartitions{"c": {0}}), nil)
	wantErr(t, "abort", tc.EndTxn(id, pid, e1, false), nil)
	waitState(t, tc, id, kmsg.TransactionStateCompleteAbort)
	if ms := fm.markers(); len(ms) != 4 || ms[3].commit || ms[3].topic != "c" {
		t.Fatalf("markers %v, want a fourth abort on c", ms)
	}
}

func TestTxnInitAbortsOngoing(t *testing.T) {
	_, tc, fm := newTestTxn(t)
	const id = "tx-reinit"
	waitTxnLoaded(t, tc, id)
	pid, e0 := initTxn(t, tc, id, -1, -1)
	wantErr(t, "add", tc.AddPartitions(id, pid, e0, TxnPartitions{"a": {0}}), nil)
	_, _, e := tc.InitProducerID(context.Background(), id, 10000, -1, -1)
	wantErr(t, "init while ongoing", e, kerr.ConcurrentTransactions)
	waitState(t, tc, id, kmsg.TransactionStateCompleteAbort)
	if ms := fm.markers(); len(ms) != 1 || ms[0].commit || ms[0].epoch != e0+1 {
		t.Fatalf("markers %v, want one abort at epoch %d", ms, e0+1)
	}
	pid2, e2 := initTxn(t, tc, id, -1, -1)
	if pid2 != pid || e2 != e0+2 {
		t.Fatalf("init after abort: %d/%d, want %d/%d", pid2, e2, pid, e0+2)
	}
	wantErr(t, "old producer", tc.AddPartitions(id, pid, e0, TxnPartitions{"a": {0}}), kerr.ProducerFenced)

	// KIP-360: a retry of the last init gets its answer again; the current
	// pair bumps; anything else is fenced.
	if p, e := initTxn(t, tc, id, pid, e0+1); p != pid || e != e2 {
		t.Fatalf("retried init: %d/%d, want %d/%d", p, e, pid, e2)
	}
	if p, e := initTxn(t, tc, id, pid, e2); p != pid || e != e2+1 {
		t.Fatalf("init with current pair: %d/%d, want %d/%d", p, e, pid, e2+1)
	}
	_, _, e = tc.InitProducerID(context.Background(), id, 10000, pid, e0)
	wantErr(t, "init with stale pair", e, kerr.ProducerFenced)
}

func TestTxnTimeoutAborts(t *testing.T) {
	_, tc, fm := newTestTxn(t)
	const id = "tx-timeout"
	waitTxnLoaded(t, tc, id)
	pid, e0, err := tc.InitProducerID(context.Background(), id, 100, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "add", tc.AddPartitions(id, pid, e0, TxnPartitions{"a": {0, 1}}), nil)
	waitState(t, tc, id, kmsg.TransactionStateCompleteAbort)
	ms := fm.markers()
	if len(ms) != 2 || ms[0].commit || ms[0].epoch != e0+1 {
		t.Fatalf("markers %v, want two aborts at epoch %d", ms, e0+1)
	}
	wantErr(t, "commit after timeout", tc.EndTxn(id, pid, e0, true), kerr.ProducerFenced)
}

func TestTxnReloadRestoresState(t *testing.T) {
	_, tc, fm := newTestTxn(t)
	const id = "tx-reload"
	waitTxnLoaded(t, tc, id)
	pid, e0 := initTxn(t, tc, id, -1, -1)
	wantErr(t, "add", tc.AddPartitions(id, pid, e0, TxnPartitions{"a": {0}, "b": {1}}), nil)
	reloadTxn(t, tc, id)
	if s, p, e, n := txnState(t, tc, id); s != kmsg.TransactionStateOngoing || p != pid || e != e0 || n != 2 {
		t.Fatalf("after reload: %v %d/%d %d partitions", s, p, e, n)
	}

	// Prepared but not completed when leadership is lost: the next leader
	// writes the markers and completes.
	fm.setFailing(true)
	wantErr(t, "commit", tc.EndTxn(id, pid, e0, true), nil)
	deadline := time.Now().Add(10 * time.Second)
	for fm.failures() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("markers never attempted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	reloadTxn(t, tc, id)
	if s, _, _, _ := txnState(t, tc, id); s != kmsg.TransactionStatePrepareCommit {
		t.Fatalf("after reload: %v, want PrepareCommit", s)
	}
	wantErr(t, "commit while preparing", tc.EndTxn(id, pid, e0, true), kerr.ConcurrentTransactions)
	fm.setFailing(false)
	waitState(t, tc, id, kmsg.TransactionStateCompleteCommit)
	if ms := fm.markers(); len(ms) != 2 || !ms[0].commit {
		t.Fatalf("markers %v, want two commits", ms)
	}
	reloadTxn(t, tc, id)
	if s, p, e, n := txnState(t, tc, id); s != kmsg.TransactionStateCompleteCommit || p != pid || e != e0 || n != 0 {
		t.Fatalf("after second reload: %v %d/%d %d partitions", s, p, e, n)
	}
}
