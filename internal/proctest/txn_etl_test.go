package proctest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTxnETLBrokerKill is exactly-once processing through a broker crash:
// a consume-transform-produce loop (franz-go's GroupTransactSession:
// read_committed input, transactional output, offsets committed in the
// transaction) copies numbered records from one RF=3 topic to another on
// three brokers while the broker coordinating its transactions, and later
// the one coordinating its group, is killed with SIGKILL and restarted. Every input record must appear in the
// output exactly once to a read_committed reader, and the group's
// committed offsets must reach the end of the input.
//
// It runs in make test-faults (CHRONIK_FAULTS=full), not in make test.
func TestTxnETLBrokerKill(t *testing.T) {
	if !fullFaults() && os.Getenv("CHRONIK_TEST_ALL") == "" {
		t.Skip("the exactly-once ETL through broker kills runs in make test-faults (CHRONIK_FAULTS=full)")
	}
	const in, out, group, txnID, partitions, records = "etl-in", "etl-out", "etl-group", "etl-txn", 4, 4000
	start := time.Now()
	c := newCluster(t, 3)
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	c.waitReady(60*time.Second, 1, 2, 3)
	seeds := c.kafkaAddrs()
	for _, topic := range []string{in, out} {
		runCLI(t, "topic", "create", "--brokers", strings.Join(seeds, ","), "-p", strconv.Itoa(partitions), "-r", "3", topic)
	}

	// The input, produced while the ETL runs (about 250 records/s, so
	// that the kill lands mid-stream), by an idempotent producer.
	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(in),
		kgo.RecordDeliveryTimeout(60*time.Second), kgo.MetadataMinAge(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	prodDone := make(chan struct{})
	go func() {
		defer close(prodDone)
		defer prod.Close()
		for i := 0; i < records; i += 25 {
			rs := make([]*kgo.Record, 0, 25)
			for j := i; j < i+25 && j < records; j++ {
				rs = append(rs, &kgo.Record{Key: []byte(strconv.Itoa(j % 97)), Value: []byte(strconv.Itoa(j))})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
				t.Logf("input produce: %v", err) // its records may or may not be in the input
			}
			cancel()
			time.Sleep(100 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { <-prodDone })

	// The ETL: a session ended with an error is closed and started again
	// under the same transactional id, which fences and aborts whatever
	// the old one left open.
	var (
		committed atomic.Int64 // records copied in committed transactions
		failures  atomic.Int64
	)
	etlCtx, etlCancel := context.WithCancel(context.Background())
	etlDone := make(chan struct{})
	go func() {
		defer close(etlDone)
		for etlCtx.Err() == nil {
			runETLSession(etlCtx, t, seeds, in, out, group, txnID, &committed, &failures)
		}
	}()
	stopETL := sync.OnceFunc(func() { etlCancel(); <-etlDone })
	t.Cleanup(stopETL)

	adm := admin(t, seeds)
	// kill SIGKILLs the broker coordinating what find names once copied
	// records reach at, and restarts it 3 s later.
	kill := func(what string, at int64, find func(ctx context.Context) (int32, error)) {
		waitFor(t, 60*time.Second, fmt.Sprintf("%d records copied", at), func() bool { return committed.Load() >= at })
		victim := 0
		waitFor(t, 30*time.Second, "FindCoordinator for the "+what, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			id, err := find(ctx)
			if err != nil || id < 1 || id > 3 {
				return false
			}
			victim = int(id)
			return true
		})
		t.Logf("killing broker %d (%s coordinator) with %d records copied, %v in", victim, what, committed.Load(), time.Since(start).Round(time.Millisecond))
		c.kill(victim)
		time.Sleep(3 * time.Second)
		c.start(victim)
	}
	kill("transaction", records/5, func(ctx context.Context) (int32, error) {
		r := adm.FindTxnCoordinators(ctx, txnID)[txnID]
		return r.NodeID, r.Err
	})
	kill("group", records/2, func(ctx context.Context) (int32, error) {
		r := adm.FindGroupCoordinators(ctx, group)[group]
		return r.NodeID, r.Err
	})

	// Everything is copied once the group has committed the end of every
	// input partition.
	<-prodDone
	waitFor(t, 120*time.Second, "the group commits the end of the input", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil || offs.Error() != nil {
			return false
		}
		ends, err := adm.ListEndOffsets(ctx, in)
		if err != nil {
			return false
		}
		done := true
		ends.Each(func(e kadm.ListedOffset) {
			if o, ok := offs.Lookup(in, e.Partition); !ok || o.At < e.Offset {
				done = false
			}
		})
		return done
	})
	stopETL()
	t.Logf("ETL sessions ended with an error %d times", failures.Load())

	// The output, read_committed: each input record exactly once, and
	// nothing else.
	input, output := readCommitted(t, seeds, in), readCommitted(t, seeds, out)
	count := map[string]int{}
	for _, v := range output {
		count[v]++
	}
	var lost, dup []string
	for _, v := range input {
		switch count[v] {
		case 0:
			lost = append(lost, v)
		case 1:
		default:
			dup = append(dup, v)
		}
		delete(count, v)
	}
	if len(lost) > 0 || len(dup) > 0 || len(count) > 0 {
		t.Fatalf("%d input records, %d output records: %d missing (first %v), %d more than once (first %v), %d not in the input",
			len(input), len(output), len(lost), lost[:min(len(lost), 10)], len(dup), dup[:min(len(dup), 10)], len(count))
	}
	if len(input) < records*9/10 {
		t.Fatalf("only %d of %d input records were written", len(input), records)
	}
	t.Logf("%d records copied exactly once", len(input))
}

// runETLSession copies records from in to out in transactions until ctx
// ends or the session fails.
func runETLSession(ctx context.Context, t *testing.T, seeds []string, in, out, group, txnID string, committed, failures *atomic.Int64) {
	sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(seeds...), kgo.TransactionalID(txnID),
		kgo.TransactionTimeout(10*time.Second), kgo.ConsumerGroup(group), kgo.ConsumeTopics(in),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DefaultProduceTopic(out), kgo.RequireStableFetchOffsets(), kgo.SessionTimeout(6*time.Second),
		kgo.RetryTimeout(30*time.Second), kgo.MetadataMinAge(200*time.Millisecond))
	if err != nil {
		t.Errorf("new session: %v", err)
		return
	}
	defer sess.Close()
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := sess.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				t.Logf("ETL fetch %s/%d: %v", topic, p, err)
			}
		})
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			t.Logf("ETL begin: %v", err)
			failures.Add(1)
			return
		}
		n := int64(0)
		fs.EachRecord(func(r *kgo.Record) {
			n++
			sess.Produce(ctx, &kgo.Record{Key: r.Key, Value: r.Value}, nil)
		})
		ectx, ecancel := context.WithTimeout(ctx, 30*time.Second)
		ok, err := sess.End(ectx, kgo.TryCommit)
		ecancel()
		if err != nil {
			t.Logf("ETL end: %v", err)
			failures.Add(1)
			return
		}
		if ok {
			committed.Add(n)
		}
	}
}

// readCommitted reads every record of topic with read_committed, up to the
// end offsets at the time of the call.
func readCommitted(t *testing.T, seeds []string, topic string) []string {
	t.Helper()
	adm := admin(t, seeds)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(e kadm.ListedOffset) {
		if e.Offset > 0 {
			want[e.Partition] = e.Offset
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var outv []string
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: partitions %v not read to their end", topic, want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				outv = append(outv, string(r.Value))
			}
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
	}
	return outv
}
