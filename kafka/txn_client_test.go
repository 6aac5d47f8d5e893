package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-io/chronik/engine"
)

// readValues reads topic from the start with the given isolation level
// until it has want values, then keeps polling briefly for more, and
// returns what it read.
func readValues(t *testing.T, kc *kafkaCluster, topic string, level kgo.IsolationLevel, want int) []string {
	t.Helper()
	cl := kc.client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(level), kgo.FetchMaxWait(200*time.Millisecond))
	var got []string
	deadline := time.Now().Add(30 * time.Second)
	var settled time.Time
	for time.Now().Before(deadline) {
		if len(got) >= want && settled.IsZero() {
			settled = time.Now().Add(time.Second) // anything beyond want would show up by then
		}
		if !settled.IsZero() && time.Now().After(settled) {
			break
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

// TestTransactionsKgo: a franz-go transactional producer commits one
// transaction, aborts one and commits another; a read_committed consumer
// sees exactly the committed records, a read_uncommitted one all of them.
// A second producer with the same transactional id fences the first.
func TestTransactionsKgo(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	for _, nodes := range []int{1, 3} {
		t.Run(map[int]string{1: "nodes=1", 3: "nodes=3"}[nodes], func(t *testing.T) {
			kc := newKafkaCluster(t, nodes, Config{})
			const topic = "txk"
			kc.CreateTopic(t, topic, engine.TopicConfig{Partitions: 3, ReplicationFactor: int16(nodes)})
			ctx := testCtx(t, 2*time.Minute)
			cl := kc.client(t, kgo.TransactionalID("etl-1"), kgo.DefaultProduceTopic(topic),
				kgo.TransactionTimeout(10*time.Second))
			txn := func(values []string, commit kgo.TransactionEndTry) {
				t.Helper()
				if err := cl.BeginTransaction(); err != nil {
					t.Fatalf("begin: %v", err)
				}
				for _, v := range values {
					if err := cl.ProduceSync(ctx, kgo.StringRecord(v)).FirstErr(); err != nil {
						t.Fatalf("produce %s: %v", v, err)
					}
				}
				if err := cl.EndTransaction(ctx, commit); err != nil {
					t.Fatalf("end transaction (commit %v): %v", commit, err)
				}
			}
			txn([]string{"c1", "c2", "c3", "c4"}, kgo.TryCommit)
			txn([]string{"x1", "x2", "x3"}, kgo.TryAbort)
			txn([]string{"c5", "c6"}, kgo.TryCommit)

			committed := readValues(t, kc, topic, kgo.ReadCommitted(), 6)
			for _, v := range committed {
				if strings.HasPrefix(v, "x") {
					t.Errorf("read_committed consumer saw aborted record %s", v)
				}
			}
			if len(committed) != 6 {
				t.Errorf("read_committed consumer saw %d records %v, want the 6 committed", len(committed), committed)
			}
			if all := readValues(t, kc, topic, kgo.ReadUncommitted(), 9); len(all) != 9 {
				t.Errorf("read_uncommitted consumer saw %d records %v, want 9", len(all), all)
			}

			// A new producer with the same transactional id bumps the epoch:
			// the old one is fenced.
			cl2 := kc.client(t, kgo.TransactionalID("etl-1"), kgo.DefaultProduceTopic(topic))
			if err := cl2.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			if err := cl2.ProduceSync(ctx, kgo.StringRecord("new")).FirstErr(); err != nil {
				t.Fatalf("produce on the new producer: %v", err)
			}
			if err := cl2.EndTransaction(ctx, kgo.TryCommit); err != nil {
				t.Fatalf("commit on the new producer: %v", err)
			}
			if err := cl.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			err := cl.ProduceSync(ctx, kgo.StringRecord("stale")).FirstErr()
			if err == nil {
				err = cl.EndTransaction(ctx, kgo.TryCommit)
			}
			if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
				t.Errorf("the fenced producer got %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", err)
			}
		})
	}
}

// TestTransactionsKcat: librdkafka's transactional producer (kcat -X
// transactional.id) commits on exit, and a read_committed kcat consumer
// reads every record; on 1 and 3 brokers. Skipped without kcat.
func TestTransactionsKcat(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed")
	}
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d brokers", n), func(t *testing.T) { testTransactionsKcat(t, kcat, n) })
	}
}

func testTransactionsKcat(t *testing.T, kcat string, n int) {
	kc := newKafkaCluster(t, n, Config{})
	const topic = "txkcat"
	kc.CreateTopic(t, topic, engine.TopicConfig{Partitions: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	in := strings.Repeat("r\n", 50)
	prod := exec.CommandContext(ctx, kcat, "-P", "-b", kc.addrs[1], "-t", topic, "-X", "transactional.id=kcat-tx")
	var stderr bytes.Buffer
	prod.Stdin, prod.Stderr = strings.NewReader(in), &stderr
	if err := prod.Run(); err != nil {
		t.Fatalf("kcat producer: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "committed") {
		t.Fatalf("kcat did not commit its transaction:\n%s", stderr.String())
	}
	cons := exec.CommandContext(ctx, kcat, "-C", "-b", kc.addrs[1], "-t", topic, "-e", "-o", "beginning",
		"-X", "isolation.level=read_committed", "-f", "%s\n")
	var out bytes.Buffer
	stderr.Reset()
	cons.Stdout, cons.Stderr = &out, &stderr
	if err := cons.Run(); err != nil {
		t.Fatalf("kcat consumer: %v\n%s", err, stderr.String())
	}
	if n := strings.Count(out.String(), "r\n"); n != 50 {
		t.Fatalf("read_committed kcat read %d records, want 50\n%s", n, stderr.String())
	}
}
