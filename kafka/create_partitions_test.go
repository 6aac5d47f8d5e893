package kafka

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// CreatePartitions through kadm: validate-only changes nothing, a real call
// adds partitions that every broker's Metadata shows led and that take
// records; bad counts, unknown topics, manual assignments and a topic named
// twice get their error codes.
func TestCreatePartitions(t *testing.T) {
	kc := newKafkaCluster(t, 2, Config{})
	kc.CreateTopic(t, "grow", engine.TopicConfig{Partitions: 2, ReplicationFactor: 2})
	adm := kc.admin(t)
	ctx := testCtx(t, time.Minute)

	if rs, err := adm.ValidateCreatePartitions(ctx, 2, "grow"); err != nil || rs.Error() != nil {
		t.Fatalf("validate adding 2: %v %v", err, rs.Error())
	}
	if td, err := adm.ListTopics(ctx, "grow"); err != nil || len(td["grow"].Partitions) != 2 {
		t.Fatalf("after validate-only: %v partitions, %v", len(td["grow"].Partitions), err)
	}
	if rs, err := adm.CreatePartitions(ctx, 2, "grow"); err != nil || rs.Error() != nil {
		t.Fatalf("add 2: %v %v", err, rs.Error())
	}
	for _, addr := range kc.seeds() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			md := kmsg.NewPtrMetadataRequest()
			mt := kmsg.NewMetadataRequestTopic()
			mt.Topic = kmsg.StringPtr("grow")
			md.Topics = append(md.Topics, mt)
			resp := roundTrip[*kmsg.MetadataResponse](dialRaw(t, addr), md)
			led := 0
			for _, p := range resp.Topics[0].Partitions {
				if p.Leader >= 0 && p.ErrorCode == 0 && len(p.Replicas) == 2 {
					led++
				}
			}
			if len(resp.Topics[0].Partitions) == 4 && led == 4 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("broker %s: metadata of grow %+v, want 4 led partitions of 2 replicas", addr, resp.Topics[0].Partitions)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	cl := kc.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < 4; p++ {
		r, err := cl.ProduceSync(ctx, &kgo.Record{Topic: "grow", Partition: p, Value: []byte("v")}).First()
		if err != nil || r.Offset != 0 {
			t.Fatalf("produce to partition %d: offset %v, %v", p, r, err)
		}
	}

	for _, tc := range []struct {
		name  string
		set   int
		topic string
		want  *kerr.Error
	}{
		{"as many", 4, "grow", kerr.InvalidPartitions},
		{"fewer", 3, "grow", kerr.InvalidPartitions},
		{"unknown topic", 5, "nope", kerr.UnknownTopicOrPartition},
	} {
		rs, err := adm.UpdatePartitions(ctx, tc.set, tc.topic)
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := rs.On(tc.topic, nil); !errors.Is(r.Err, tc.want) || r.ErrMessage == "" {
			t.Errorf("%s: %v (%q), want %s with a message", tc.name, r.Err, r.ErrMessage, tc.want.Message)
		}
	}

	req := kmsg.NewPtrCreatePartitionsRequest()
	req.TimeoutMillis = 5000
	for _, name := range []string{"twice", "twice", "grow"} {
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = name, 6
		if name == "grow" {
			a := kmsg.NewCreatePartitionsRequestTopicAssignment()
			a.Replicas = []int32{1, 2}
			rt.Assignment = append(rt.Assignment, a, a)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp := roundTrip[*kmsg.CreatePartitionsResponse](dialRaw(t, kc.addrs[1]), req)
	want := []int16{kerr.InvalidRequest.Code, kerr.InvalidRequest.Code, kerr.InvalidReplicaAssignment.Code}
	for i, rt := range resp.Topics {
		if rt.ErrorCode != want[i] {
			t.Errorf("raw request, topic %d (%s): %v, want %v", i, rt.Topic, kerr.ErrorForCode(rt.ErrorCode), kerr.ErrorForCode(want[i]))
		}
	}
	if td, err := adm.ListTopics(ctx, "grow"); err != nil || len(td["grow"].Partitions) != 4 {
		t.Fatalf("after refused requests: %d partitions, %v; want 4", len(td["grow"].Partitions), err)
	}
}
