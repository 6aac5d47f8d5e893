package compat

import (
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestSaramaTransactions: sarama's transactional producer commits one
// transaction and aborts another; a read_committed sarama consumer reads
// exactly the committed records, in order.
func TestSaramaTransactions(t *testing.T) {
	t.Parallel() // like TestSarama: mostly waiting
	c := startCluster(t, 1)
	cfg := saramaConfig(sarama.V3_6_0_0)
	cfg.Producer.Transaction.ID = "sarama-txn"
	cfg.Producer.Transaction.Timeout = 10 * time.Second
	cfg.Consumer.IsolationLevel = sarama.ReadCommitted
	cfg.Producer.Partitioner = sarama.NewManualPartitioner // every record to partition 0
	const topic = "sarama-txn"
	p, err := sarama.NewSyncProducer(c.Brokers(), cfg)
	if err != nil {
		t.Fatalf("transactional producer: %v", err)
	}
	defer p.Close()
	txn := func(values []string, commit bool) {
		t.Helper()
		if err := p.BeginTxn(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		for _, v := range values {
			if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(v)}); err != nil {
				t.Fatalf("send %s: %v", v, err)
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
	txn([]string{"c1", "c2"}, true)
	txn([]string{"x1", "x2", "x3"}, false)
	txn([]string{"c3"}, true)

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
}
