package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// verifyConfig is a short verify run against brokers.
func verifyConfig(t *testing.T, brokers []string, topic string) VerifyConfig {
	cfg := DefaultVerifyConfig()
	cfg.Brokers = brokers
	cfg.Topic = topic
	cfg.Partitions = 4
	cfg.Duration = time.Second
	cfg.Rate = 2000
	cfg.RecordSize = 64
	cfg.ReadTimeout = 15 * time.Second
	cfg.Logger = testLogger(t)
	return cfg
}

// checkAccounted fails unless every record sent is accounted for, in the
// totals and in each partition, and the partitions add up to the totals.
func checkAccounted(t *testing.T, r VerifyResult) {
	t.Helper()
	var sum VerifyCounts
	for _, p := range r.Partitions {
		if p.Sent != p.Acked+p.Failed+p.Unknown {
			t.Errorf("partition %d: sent %d != acked %d + failed %d + unknown %d", p.Partition, p.Sent, p.Acked, p.Failed, p.Unknown)
		}
		sum.add(p.VerifyCounts)
	}
	if sum != r.Totals {
		t.Errorf("partitions sum to %+v, totals are %+v", sum, r.Totals)
	}
}

func TestVerifyCleanKfake(t *testing.T) {
	fake := newFake(t)
	cfg := verifyConfig(t, fake.ListenAddrs(), "clean")
	cfg.Producers = 2
	var mu sync.Mutex
	kinds := map[string]bool{}
	cfg.ProgressInterval = 100 * time.Millisecond
	cfg.Progress = func(p Progress) {
		mu.Lock()
		kinds[p.Kind] = true
		mu.Unlock()
	}
	res, err := Verify(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("clean run failed: %v\nfindings %+v", res.Problems(), res.Findings)
	}
	checkAccounted(t, res)
	tot := res.Totals
	// 2000 records/s for 1s.
	if tot.Sent < 1500 || tot.Sent > 2100 || tot.Acked != tot.Sent {
		t.Errorf("sent %d acked %d, want about 2000, all acknowledged", tot.Sent, tot.Acked)
	}
	if tot.Read != tot.Acked || tot.Foreign != 0 || tot.UnackedPresent != 0 {
		t.Errorf("read %d (foreign %d, unacked %d), want exactly the %d acknowledged", tot.Read, tot.Foreign, tot.UnackedPresent, tot.Acked)
	}
	if len(res.Partitions) != 4 || res.ReadPasses != 2 {
		t.Fatalf("%d partitions, %d passes; want 4 and 2", len(res.Partitions), res.ReadPasses)
	}
	for _, p := range res.Partitions {
		// Round robin: each partition gets a quarter of the records.
		if d := p.Sent - tot.Sent/4; d < -2 || d > 2 {
			t.Errorf("partition %d got %d of %d records, want a quarter", p.Partition, p.Sent, tot.Sent)
		}
		if !p.Complete || p.EndOffset != p.Acked || len(p.Leaders) != 2 {
			t.Errorf("partition %+v: want complete, read to offset %d, two leaders", p, p.Acked)
		}
		if p.LongestStall <= 0 || p.LongestStall > 500*time.Millisecond {
			t.Errorf("partition %d: longest stall %s on a healthy broker", p.Partition, p.LongestStall)
		}
	}
	if res.Latency.Count != tot.Acked {
		t.Errorf("latency samples %d, want %d", res.Latency.Count, tot.Acked)
	}
	mu.Lock()
	if !kinds["verify"] || !kinds["read"] {
		t.Errorf("progress kinds %v, want verify and read", kinds)
	}
	mu.Unlock()

	// The same topic again: the first run's records are another run's now.
	again, err := Verify(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !again.OK() || again.Totals.Foreign != 0 {
		t.Errorf("second run: OK %v (%v), foreign %d: it must read past the first run's records", again.OK(), again.Problems(), again.Totals.Foreign)
	}
	if again.Run == res.Run {
		t.Errorf("two runs share the run id %s", res.Run)
	}

	var buf bytes.Buffer
	if err := WriteVerifyText(&buf, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"result: OK", "lost 0", "partition", "total", "idempotent=true", "acks=all", "run=" + res.Run} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, buf.String())
		}
	}
	t.Logf("\n%s", buf.String())
	buf.Reset()
	if err := WriteVerifyJSON(&buf, res); err != nil {
		t.Fatal(err)
	}
	var back struct {
		OK       bool     `json:"ok"`
		Problems []string `json:"problems"`
		VerifyResult
	}
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("JSON report does not parse: %v\n%s", err, buf.String())
	}
	if !back.OK || back.Problems == nil || len(back.Problems) != 0 || back.Totals != res.Totals || len(back.Partitions) != 4 {
		t.Errorf("JSON round trip: ok %v problems %v totals %+v", back.OK, back.Problems, back.Totals)
	}
}

// TestVerifyCatchesDeletedRecords deletes acknowledged records behind the
// checker's back, between the load and the read-back: it must report
// exactly those as lost.
func TestVerifyCatchesDeletedRecords(t *testing.T) {
	fake := newFake(t)
	cfg := verifyConfig(t, fake.ListenAddrs(), "deleted")
	const deleted = 25
	var deleteErr error
	cfg.Progress = func(p Progress) {
		// The load's final progress call comes after the last answer and
		// before the read-back.
		if p.Kind == "verify" && p.Done {
			deleteErr = fake.DeleteRecords("deleted", 2, deleted)
		}
	}
	res, err := Verify(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if deleteErr != nil {
		t.Fatalf("delete records: %v", deleteErr)
	}
	checkAccounted(t, res)
	if res.OK() {
		t.Fatal("the check passed although records were deleted")
	}
	tot := res.Totals
	if tot.Lost != deleted || res.Partitions[2].Lost != deleted || tot.Acked != tot.Sent {
		t.Fatalf("lost %d (partition 2: %d) of %d acknowledged, want %d in partition 2", tot.Lost, res.Partitions[2].Lost, tot.Acked, deleted)
	}
	if tot.Duplicated+tot.Reordered+tot.Inconsistent+tot.Corrupt+tot.Unverified != 0 {
		t.Errorf("only loss expected, got %+v", tot)
	}
	if len(res.Findings) == 0 || res.Findings[0].Kind != "lost" || res.Findings[0].Partition != 2 || res.Findings[0].Offset != 0 {
		t.Errorf("findings %+v: want lost records of partition 2 from offset 0", res.Findings)
	}
	var buf bytes.Buffer
	if err := WriteVerifyText(&buf, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "result: FAILED: 25 acknowledged records lost") {
		t.Errorf("text report:\n%s", buf.String())
	}
}

// TestVerifyCatchesAckWithoutWrite makes the broker acknowledge one produce
// request without storing it: the records of that request are lost.
func TestVerifyCatchesAckWithoutWrite(t *testing.T) {
	fake := newFake(t)
	var requests, dropped atomic.Int64
	fake.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		fake.KeepControl()
		if requests.Add(1) != 50 {
			return nil, nil, false
		}
		r := req.(*kmsg.ProduceRequest)
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		for _, tp := range r.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = tp.Topic, tp.TopicID
			for _, p := range tp.Partitions {
				var batch kmsg.RecordBatch
				if err := batch.ReadFrom(p.Records); err != nil {
					t.Errorf("decode record batch: %v", err)
				}
				dropped.Add(int64(batch.NumRecords))
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.BaseOffset = 1_000_000 // never written
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	cfg := verifyConfig(t, fake.ListenAddrs(), "unwritten")
	// A skipped batch would break an idempotent producer's sequence
	// numbers; plain retries keep the rest of the run normal.
	cfg.Idempotent = false
	res, err := Verify(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkAccounted(t, res)
	if dropped.Load() == 0 {
		t.Fatal("no produce request was dropped")
	}
	if res.OK() || res.Totals.Lost != dropped.Load() {
		t.Fatalf("OK %v, lost %d, want %d lost (problems %v)", res.OK(), res.Totals.Lost, dropped.Load(), res.Problems())
	}
	if tot := res.Totals; tot.Duplicated+tot.Inconsistent+tot.Corrupt != 0 {
		t.Errorf("only loss expected, got %+v", tot)
	}
	if f := res.Findings[0]; f.Kind != "lost" || f.Offset < 1_000_000 {
		t.Errorf("first finding %+v: want a record lost at its acknowledged offset 1000000+", f)
	}
}

func TestVerifyConfigValidate(t *testing.T) {
	if err := DefaultVerifyConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	cfg := DefaultVerifyConfig()
	cfg.Brokers = []string{"nohost"}
	cfg.Topic = "bad topic"
	cfg.Partitions = 0
	cfg.Producers = 1000
	cfg.Duration = -time.Second
	cfg.Rate = -1
	cfg.RecordSize = MaxRecordSize + 1
	cfg.DeliveryTimeout = time.Millisecond
	cfg.ReadPasses = 9
	cfg.ReadTimeout = 0
	err := cfg.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{`Brokers[0] "nohost"`, `Topic "bad topic"`, "Partitions 0", "Producers 1000", "Duration -1s",
		"Rate -1", "RecordSize 16777217", "DeliveryTimeout 1ms", "ReadPasses 9", "ReadTimeout 0s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// Verify refuses it before dialling anything.
	if _, err := Verify(context.Background(), cfg); err == nil {
		t.Error("Verify ran an invalid config")
	}
}

// TestVerifyEmbedded runs the checker against chronik itself: a one-node
// in-process cluster, real Raft and disk; first plain, then transactional
// (sharing the cluster saves its start-up).
func TestVerifyEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a chronik broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := StartEmbedded(ctx, EmbeddedConfig{Nodes: 1, Dir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cl.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	})
	report := func(t *testing.T, res VerifyResult) {
		var buf bytes.Buffer
		if err := WriteVerifyText(&buf, res); err != nil {
			t.Fatal(err)
		}
		t.Logf("\n%s", buf.String())
	}
	t.Run("plain", func(t *testing.T) {
		cfg := verifyConfig(t, cl.Brokers(), "verify-e2e")
		cfg.Partitions = 2
		cfg.ReplicationFactor = 1
		cfg.Duration = 2 * time.Second
		res, err := Verify(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkAccounted(t, res)
		report(t, res)
		if !res.OK() {
			t.Fatalf("chronik failed the check: %v", res.Problems())
		}
		if res.Totals.Acked < 3000 || res.Totals.Read != res.Totals.Acked {
			t.Errorf("acked %d, read %d: want about 4000, all read back", res.Totals.Acked, res.Totals.Read)
		}
	})
	// Exactly once: about 13 of 40 transactions aborted on purpose, none
	// of their records read with read_committed.
	t.Run("transactional", func(t *testing.T) {
		cfg := txnVerifyConfig(t, cl.Brokers(), "verify-txn-e2e")
		cfg.ReplicationFactor = 1
		res, err := Verify(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		report(t, res)
		checkTxnClean(t, res)
	})
}

// txnVerifyConfig is a short transactional run: about 40 transactions of
// 25 records in half a second, every third aborted on purpose.
func txnVerifyConfig(t *testing.T, brokers []string, topic string) VerifyConfig {
	cfg := verifyConfig(t, brokers, topic)
	cfg.Partitions = 2
	cfg.Duration = 500 * time.Millisecond
	cfg.Transactional = true
	cfg.TxnRecords = 25
	cfg.AbortEvery = 3
	return cfg
}

// checkTxnClean fails unless res is a passing transactional run that
// aborted transactions on purpose and read back exactly the committed
// records.
func checkTxnClean(t *testing.T, res VerifyResult) {
	t.Helper()
	checkAccounted(t, res)
	if !res.OK() {
		t.Fatalf("transactional run failed: %v\nfindings %+v", res.Problems(), res.Findings)
	}
	tot, x := res.Totals, res.Transactions
	if !res.Transactional || x.Committed < 10 || x.AbortedDeliberately < 5 || x.Aborted != x.AbortedDeliberately || x.Unknown != 0 {
		t.Errorf("transactions %+v: want about 27 committed and 13 aborted on purpose, nothing else", x)
	}
	if tot.Acked != tot.Sent || tot.TxnAborted != 25*x.AbortedDeliberately || tot.AbortedSeen != 0 {
		t.Errorf("totals %+v: want everything acknowledged, 25 records per aborted transaction, none seen", tot)
	}
	if tot.Read != tot.Acked-tot.TxnAborted || tot.UnackedPresent != 0 || tot.Foreign != 0 {
		t.Errorf("read %d of %d acknowledged (%d aborted): want exactly the committed ones", tot.Read, tot.Acked, tot.TxnAborted)
	}
}

func TestVerifyTransactionalKfake(t *testing.T) {
	fake := newFake(t)
	res, err := Verify(testCtx(t), txnVerifyConfig(t, fake.ListenAddrs(), "txn"))
	if err != nil {
		t.Fatal(err)
	}
	checkTxnClean(t, res)
	var buf bytes.Buffer
	if err := WriteVerifyText(&buf, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"result: OK: every record of a committed transaction", "transactions: ", "abortseen", "transactional=true", "abort-every=3"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, buf.String())
		}
	}
	buf.Reset()
	if err := WriteVerifyJSON(&buf, res); err != nil {
		t.Fatal(err)
	}
	var back VerifyResult
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Transactions != res.Transactions || back.Totals != res.Totals || !back.Transactional {
		t.Errorf("JSON round trip: transactions %+v, totals %+v", back.Transactions, back.Totals)
	}
}

// TestVerifyTransactionalCatchesCommittedAbort makes the broker commit the
// transactions the producers abort: read_committed then shows their
// records, which the check must report.
func TestVerifyTransactionalCatchesCommittedAbort(t *testing.T) {
	fake := newFake(t)
	var flipped atomic.Int64
	fake.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		fake.KeepControl()
		if r := req.(*kmsg.EndTxnRequest); !r.Commit {
			r.Commit = true
			flipped.Add(1)
		}
		return nil, nil, false
	})
	res, err := Verify(testCtx(t), txnVerifyConfig(t, fake.ListenAddrs(), "txn-flipped"))
	if err != nil {
		t.Fatal(err)
	}
	checkAccounted(t, res)
	if flipped.Load() == 0 {
		t.Fatal("no abort was turned into a commit")
	}
	tot := res.Totals
	if res.OK() || tot.AbortedSeen == 0 || tot.AbortedSeen != tot.TxnAborted {
		t.Fatalf("OK %v, %d records of aborted transactions seen of %d: want all seen and a failure (problems %v)",
			res.OK(), tot.AbortedSeen, tot.TxnAborted, res.Problems())
	}
	if !strings.Contains(strings.Join(res.Problems(), "; "), "records of aborted transactions read with read_committed") {
		t.Errorf("problems %v", res.Problems())
	}
	if f := res.Findings[0]; f.Kind != "aborted-seen" || !strings.Contains(f.Detail, "aborted on purpose") {
		t.Errorf("first finding %+v: want an aborted-seen record of a transaction aborted on purpose", f)
	}
}
