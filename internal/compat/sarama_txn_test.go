package compat

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/chronik-io/chronik/bench"
)

// TestSaramaTransactions: sarama's transactional producer commits one
// transaction and aborts another, each also committing consumer offsets
// (AddOffsetsToTxn, TxnOffsetCommit); a read_committed sarama consumer
// reads exactly the committed records, in order, and the group holds the
// committed transaction's offset. On 1 and 3 brokers.
func TestSaramaTransactions(t *testing.T) {
	t.Parallel() // like TestSarama: mostly waiting
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d brokers", n), func(t *testing.T) {
			t.Parallel()
			testSaramaTransactions(t, startCluster(t, n))
		})
	}
}

func testSaramaTransactions(t *testing.T, c *bench.Cluster) {
	cfg := saramaConfig(sarama.V3_6_0_0)
	cfg.Producer.Transaction.ID = "sarama-txn"
	cfg.Producer.Transaction.Timeout = 10 * time.Second
	cfg.Consumer.IsolationLevel = sarama.ReadCommitted
	cfg.Producer.Partitioner = sarama.NewManualPartitioner // every record to partition 0
	const topic, group = "sarama-txn", "sarama-txn-group"
	p, err := sarama.NewSyncProducer(c.Brokers(), cfg)
	if err != nil {
		t.Fatalf("transactional producer: %v", err)
	}
	defer p.Close()
	txn := func(values []string, offset int64, commit bool) {
		t.Helper()
		if err := p.BeginTxn(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		for _, v := range values {
			if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(v)}); err != nil {
				t.Fatalf("send %s: %v", v, err)
			}
		}
		if offset >= 0 {
			offs := map[string][]*sarama.PartitionOffsetMetadata{topic: {{Partition: 0, Offset: offset, LeaderEpoch: -1}}}
			if err := p.AddOffsetsToTxn(offs, group); err != nil {
				t.Fatalf("offsets in the transaction: %v", err)
			}
		}
		if commit {
			err = p.CommitTxn()
		} else {
			err = p.AbortTxn()
		}
		if err != nil {
			t.Fatalf("end transaction (commit %v): %v", commit, err)
		}
	}
	txn([]string{"c1", "c2"}, 7, true)
	txn([]string{"x1", "x2", "x3"}, 99, false)
	txn([]string{"c3"}, -1, true)

	cons, err := sarama.NewConsumer(c.Brokers(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var got []string
	timeout := time.After(20 * time.Second)
	for len(got) < 3 {
		select {
		case m := <-pc.Messages():
			got = append(got, string(m.Value))
		case err := <-pc.Errors():
			t.Fatalf("consume: %v", err)
		case <-timeout:
			t.Fatalf("read_committed consumer read %v, want c1 c2 c3", got)
		}
	}
	select { // nothing more: the aborted records stay hidden
	case m := <-pc.Messages():
		got = append(got, string(m.Value))
	case <-time.After(time.Second):
	}
	if strings.Join(got, " ") != "c1 c2 c3" {
		t.Fatalf("read_committed consumer read %v, want c1 c2 c3", got)
	}

	// The committed transaction's offset, not the aborted one's. The
	// commit marker reaches __consumer_offsets after EndTxn is answered.
	adm, err := sarama.NewClusterAdmin(c.Brokers(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := adm.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0}})
		var off int64 = -2
		if err == nil {
			if b := resp.GetBlock(topic, 0); b != nil && b.Err == sarama.ErrNoError {
				off = b.Offset
			}
		}
		if off == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group offset of partition 0: %d (%v), want 7 from the committed transaction", off, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
