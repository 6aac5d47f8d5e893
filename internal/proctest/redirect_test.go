package proctest

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// checkFollowerRedirect sends a Produce and a Fetch for partition 0 of
// topic straight to a broker that does not lead it and checks the answer:
// NOT_LEADER_OR_FOLLOWER naming the current leader and epoch for the
// Produce; the Fetch (v11+, a consumer's) is served by the follower.
func checkFollowerRedirect(t *testing.T, c *cluster, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := admin(t, c.kafkaAddrs())
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	pd := md.Topics[topic].Partitions[0]
	follower := int32(1)
	for follower == pd.Leader {
		follower++
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaAddrs(int(follower))...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	br := cl.Broker(int(follower))

	preq := kmsg.NewPtrProduceRequest()
	preq.Acks, preq.TimeoutMillis = -1, 5000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = topic
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = engine.EncodeBatch([]engine.Record{{Value: []byte("to a follower")}}, time.Now())
	pt.Partitions = append(pt.Partitions, pp)
	preq.Topics = append(preq.Topics, pt)
	presp, err := br.RetriableRequest(ctx, preq)
	if err != nil {
		t.Fatalf("produce to broker %d: %v", follower, err)
	}
	pr := presp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	if pr.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Errorf("produce to follower %d: error %v, want NOT_LEADER_OR_FOLLOWER", follower, kerr.ErrorForCode(pr.ErrorCode))
	}
	if presp.GetVersion() >= 10 && (pr.CurrentLeader.LeaderID != pd.Leader || pr.CurrentLeader.LeaderEpoch != pd.LeaderEpoch) {
		t.Errorf("produce to follower %d: current leader %d epoch %d, want %d epoch %d", follower,
			pr.CurrentLeader.LeaderID, pr.CurrentLeader.LeaderEpoch, pd.Leader, pd.LeaderEpoch)
	}

	freq := kmsg.NewPtrFetchRequest()
	freq.MaxWaitMillis, freq.MaxBytes = 100, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	ft.TopicID = md.Topics[topic].ID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = 1<<20, -1
	ft.Partitions = append(ft.Partitions, fp)
	freq.Topics = append(freq.Topics, ft)
	fresp, err := br.RetriableRequest(ctx, freq)
	if err != nil {
		t.Fatalf("fetch from broker %d: %v", follower, err)
	}
	fr := fresp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
	if fresp.GetVersion() >= 11 {
		// A consumer's fetch with client metadata is served by an
		// in-sync follower (KIP-392).
		if fr.ErrorCode != 0 || fr.PreferredReadReplica != -1 {
			t.Errorf("fetch v%d from follower %d: error %v, preferred replica %d; want served there", fresp.GetVersion(), follower,
				kerr.ErrorForCode(fr.ErrorCode), fr.PreferredReadReplica)
		}
		return
	}
	if fr.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Errorf("fetch from follower %d: error %v, want NOT_LEADER_OR_FOLLOWER", follower, kerr.ErrorForCode(fr.ErrorCode))
	}
	if fresp.GetVersion() >= 12 && fr.CurrentLeader.LeaderID != pd.Leader {
		t.Errorf("fetch from follower %d: current leader %d, want %d", follower, fr.CurrentLeader.LeaderID, pd.Leader)
	}
}
