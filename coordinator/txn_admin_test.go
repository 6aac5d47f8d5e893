package coordinator

import (
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTxnAdmin: DescribeTxn and ListTxns over ids in each state a client
// can leave them in (Empty, Ongoing, CompleteCommit, CompleteAbort), with
// every filter of ListTransactions, and their errors.
func TestTxnAdmin(t *testing.T) {
	_, tc, _ := newTestTxn(t)
	ids := []string{"a-empty", "b-ongoing", "c-committed", "d-aborted"}
	pids := map[string]int64{}
	for _, id := range ids {
		waitTxnLoaded(t, tc, id)
		pids[id], _ = initTxn(t, tc, id, -1, -1)
	}
	before := time.Now()
	wantErr(t, "add b", tc.AddPartitions("b-ongoing", pids["b-ongoing"], 0, TxnPartitions{"t2": {1}, "t1": {2, 0}}), nil)
	for _, id := range ids[2:] {
		wantErr(t, "add "+id, tc.AddPartitions(id, pids[id], 0, TxnPartitions{"t1": {0}}), nil)
		wantErr(t, "end "+id, tc.EndTxn(id, pids[id], 0, id == "c-committed"), nil)
	}
	waitState(t, tc, "c-committed", kmsg.TransactionStateCompleteCommit)
	waitState(t, tc, "d-aborted", kmsg.TransactionStateCompleteAbort)
	time.Sleep(5 * time.Millisecond) // b has run for more than 0 ms

	t.Run("describe", func(t *testing.T) {
		for _, c := range []struct {
			id    string
			state string
			parts TxnPartitions
			err   *kerr.Error
		}{
			{"a-empty", "Empty", TxnPartitions{}, nil},
			{"b-ongoing", "Ongoing", TxnPartitions{"t1": {0, 2}, "t2": {1}}, nil},
			{"c-committed", "CompleteCommit", TxnPartitions{}, nil},
			{"d-aborted", "CompleteAbort", TxnPartitions{}, nil},
			{"unknown", "", nil, kerr.TransactionalIDNotFound},
			{"", "", nil, kerr.InvalidRequest},
		} {
			d, e := tc.DescribeTxn(c.id)
			wantErr(t, "describe "+c.id, e, c.err)
			if e != nil {
				continue
			}
			if d.ID != c.id || d.State != c.state || !reflect.DeepEqual(d.Partitions, c.parts) ||
				d.ProducerID != pids[c.id] || d.Epoch != 0 || d.TimeoutMs != 10000 {
				t.Errorf("describe %s: %+v, want %s with %v, producer %d/0, timeout 10000", c.id, d, c.state, c.parts, pids[c.id])
			}
			running := c.state == "Ongoing"
			if running != (d.StartMs >= before.UnixMilli() && d.StartMs <= time.Now().UnixMilli()) || !running && d.StartMs != -1 {
				t.Errorf("describe %s: start %d (test began at %d)", c.id, d.StartMs, before.UnixMilli())
			}
		}
	})

	t.Run("list", func(t *testing.T) {
		for _, c := range []struct {
			name    string
			f       TxnFilter
			want    []string
			unknown []string
		}{
			{"all", TxnFilter{}, ids, nil},
			{"one state", TxnFilter{States: []string{"Ongoing"}}, []string{"b-ongoing"}, nil},
			{"two states", TxnFilter{States: []string{"CompleteAbort", "CompleteCommit"}}, []string{"c-committed", "d-aborted"}, nil},
			{"unknown state ignored", TxnFilter{States: []string{"Ongoing", "Bogus"}}, []string{"b-ongoing"}, []string{"Bogus"}},
			{"only unknown states match nothing", TxnFilter{States: []string{"Bogus"}}, nil, []string{"Bogus"}},
			{"state names are case-sensitive", TxnFilter{States: []string{"ongoing"}}, nil, []string{"ongoing"}},
			{"a state no id is in", TxnFilter{States: []string{"PrepareCommit"}}, nil, nil},
			{"producer id", TxnFilter{ProducerIDs: []int64{pids["d-aborted"], -5}}, []string{"d-aborted"}, nil},
			{"producer id and state", TxnFilter{ProducerIDs: []int64{pids["d-aborted"]}, States: []string{"Empty"}}, nil, nil},
			{"running longer than 0", TxnFilter{ByDuration: true}, []string{"b-ongoing"}, nil},
			{"running longer than an hour", TxnFilter{ByDuration: true, MinDuration: time.Hour}, nil, nil},
			{"duration ignored unless asked", TxnFilter{MinDuration: time.Hour}, ids, nil},
		} {
			got, unknown, e := tc.ListTxns(c.f)
			wantErr(t, c.name, e, nil)
			var names []string
			for _, l := range got {
				names = append(names, l.ID)
				if l.ProducerID != pids[l.ID] {
					t.Errorf("%s: %s listed with producer %d, want %d", c.name, l.ID, l.ProducerID, pids[l.ID])
				}
				if d, _ := tc.DescribeTxn(l.ID); d.State != l.State {
					t.Errorf("%s: %s listed as %s, described as %s", c.name, l.ID, l.State, d.State)
				}
			}
			if !reflect.DeepEqual(names, c.want) || !reflect.DeepEqual(unknown, c.unknown) {
				t.Errorf("%s: listed %v unknown %v, want %v unknown %v", c.name, names, unknown, c.want, c.unknown)
			}
		}
	})

	t.Run("loading", func(t *testing.T) {
		// A partition that is still replaying its log: both answer
		// COORDINATOR_LOAD_IN_PROGRESS. The watcher keeps a partition of
		// the same epoch, so the swap holds until it is undone.
		tp, e := tc.partitionOf("b-ongoing")
		wantErr(t, "partition of b", e, nil)
		tc.set.mu.Lock()
		tc.set.parts[tp.p] = tc.set.newPart(tp.p, tp.epoch)
		tc.set.mu.Unlock()
		_, e = tc.DescribeTxn("b-ongoing")
		wantErr(t, "describe while loading", e, kerr.CoordinatorLoadInProgress)
		_, _, e = tc.ListTxns(TxnFilter{})
		wantErr(t, "list while loading", e, kerr.CoordinatorLoadInProgress)
		tc.set.mu.Lock()
		tc.set.parts[tp.p] = tp
		tc.set.mu.Unlock()
		if _, e := tc.DescribeTxn("b-ongoing"); e != nil {
			t.Fatalf("describe after loading: %v", e)
		}
	})

	t.Run("unavailable", func(t *testing.T) {
		off := NewTxn(nil, nil, TxnConfig{}, slog.New(slog.DiscardHandler))
		defer off.Close()
		_, e := off.DescribeTxn("b-ongoing")
		wantErr(t, "describe", e, kerr.CoordinatorNotAvailable)
		_, _, e = off.ListTxns(TxnFilter{})
		wantErr(t, "list", e, kerr.CoordinatorNotAvailable)
	})
}
