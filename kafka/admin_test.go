package kafka

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func ptr(s string) *string { return &s }

// CreateTopics, DescribeConfigs, Metadata, DeleteTopics and DescribeCluster
// through kadm, with the answers a client acts on.
func TestAdminTopics(t *testing.T) {
	kc := newKafkaCluster(t, 1, Config{DefaultPartitions: 2})
	adm := kc.admin(t)
	ctx := testCtx(t, time.Minute)

	// Create with configs; the v7 answer carries id, counts and configs.
	res, err := adm.CreateTopic(ctx, 4, -1, map[string]*string{"segment.bytes": ptr("1048576"), "cleanup.policy": ptr("delete")}, "admin-a")
	if err != nil {
		t.Fatal(err)
	}
	if res.NumPartitions != 4 || res.ReplicationFactor != 1 || res.ID == [16]byte{} {
		t.Fatalf("created: %+v", res)
	}
	if c := res.Configs["segment.bytes"]; c.Value == nil || *c.Value != "1048576" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("created segment.bytes: %+v", c)
	}
	// Default partitions.
	if res, err := adm.CreateTopic(ctx, -1, -1, nil, "admin-b"); err != nil || res.NumPartitions != 2 {
		t.Fatalf("create with defaults: %+v, %v", res, err)
	}

	bad := []struct {
		name    string
		parts   int32
		rf      int16
		configs map[string]*string
		topic   string
		want    *kerr.Error
	}{
		{"exists", 1, 1, nil, "admin-a", kerr.TopicAlreadyExists},
		{"unknown config", 1, 1, map[string]*string{"no.such.config": ptr("1")}, "admin-c", kerr.InvalidConfig},
		{"bad config value", 1, 1, map[string]*string{"retention.ms": ptr("soon")}, "admin-c", kerr.InvalidConfig},
		{"zero partitions", 0, 1, nil, "admin-c", kerr.InvalidPartitions},
		{"replication factor above brokers", 1, 3, nil, "admin-c", kerr.InvalidReplicationFactor},
		{"invalid name", 1, 1, nil, "bad/name", kerr.InvalidTopicException},
	}
	for _, tc := range bad {
		_, err := adm.CreateTopic(ctx, tc.parts, tc.rf, tc.configs, tc.topic)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want.Message)
		}
	}

	// DescribeConfigs: set values are dynamic, the rest defaults.
	rcs, err := adm.DescribeTopicConfigs(ctx, "admin-a")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On("admin-a", nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe: %v %v", err, rc.Err)
	}
	got := map[string]string{}
	for _, c := range rc.Configs {
		got[c.Key] = *c.Value
	}
	if got["segment.bytes"] != "1048576" || got["retention.ms"] != "604800000" || got["cleanup.policy"] != "delete" || got["max.message.bytes"] != "1048588" {
		t.Fatalf("described configs: %v", got)
	}
	rcs, _ = adm.DescribeTopicConfigs(ctx, "missing")
	if rc, _ := rcs.On("missing", nil); !errors.Is(rc.Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("describe missing topic: %v", rc.Err)
	}

	// DescribeCluster.
	dc := kmsg.NewPtrDescribeClusterRequest()
	dresp, err := dc.RequestWith(ctx, kc.client(t))
	if err != nil || dresp.ErrorCode != 0 || dresp.ControllerID != 1 || len(dresp.Brokers) != 1 || dresp.ClusterID == "" {
		t.Fatalf("describe cluster: %+v %v", dresp, err)
	}

	// Delete, then the topic is gone.
	if _, err := adm.DeleteTopic(ctx, "admin-b"); err != nil {
		t.Fatal(err)
	}
	if r, _ := adm.DeleteTopic(ctx, "admin-b"); !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("second delete: %v", r.Err)
	}
	md, err := adm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := md.Topics["admin-b"]; ok {
		t.Fatalf("deleted topic still listed")
	}
	if td := md.Topics["admin-a"]; td.ID != res.ID && td.ID == [16]byte{} {
		t.Fatalf("admin-a has no topic id in metadata")
	}
}

// ListOffsets: earliest, latest, by timestamp, max timestamp.
func TestListOffsets(t *testing.T) {
	kc := newKafkaCluster(t, 1, Config{AutoCreateTopics: true, DefaultPartitions: 1})
	cl := kc.client(t)
	adm := kc.admin(t)
	ctx := testCtx(t, time.Minute)
	const topic = "offsets"
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := 0; i < 10; i++ {
		ts := base.Add(time.Duration(i) * time.Second)
		if i == 4 {
			ts = base.Add(time.Minute) // the largest timestamp, out of order
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte{byte(i)}, Timestamp: ts}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	start, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	after, err := adm.ListOffsetsAfterMilli(ctx, base.Add(2500*time.Millisecond).UnixMilli(), topic)
	if err != nil {
		t.Fatal(err)
	}
	maxTS, err := adm.ListMaxTimestampOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	future, err := adm.ListOffsetsAfterMilli(ctx, time.Now().Add(time.Hour).UnixMilli(), topic)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		got  int64
		want int64
	}{
		{"earliest", off(start, topic), 0},
		{"latest", off(end, topic), 10},
		{"first at or after t+2.5s", off(after, topic), 3},
		{"max timestamp", off(maxTS, topic), 4},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: offset %d, want %d", c.name, c.got, c.want)
		}
	}
	// kadm maps "no record at or after" to the end offset.
	if o := off(future, topic); o != 10 && o != -1 {
		t.Errorf("after the last timestamp: offset %d, want the end (10) or -1", o)
	}
}

// off returns partition 0's listed offset, or -100 when missing or failed.
func off(lo kadm.ListedOffsets, topic string) int64 {
	o, ok := lo.Lookup(topic, 0)
	if !ok || o.Err != nil {
		return -100
	}
	return o.Offset
}

// DescribeConfigs of a BROKER resource lists this broker's settings under
// their Kafka names, with its HTTP address; another broker's id is refused.
func TestDescribeBrokerConfigs(t *testing.T) {
	kc := newKafkaCluster(t, 1, Config{HTTPAddr: "127.0.0.1:18090", DefaultPartitions: 2, LogDir: "/var/lib/chronik"})
	ctx := testCtx(t, 30*time.Second)
	rcs, err := kc.admin(t).DescribeBrokerConfigs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, rc := range rcs {
		if rc.Err != nil {
			t.Fatalf("broker configs: %v", rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Source != kmsg.ConfigSourceStaticBrokerConfig {
				t.Errorf("%s: source %v, want STATIC_BROKER_CONFIG", c.Key, c.Source)
			}
			got[c.Key] = c.MaybeValue()
		}
	}
	want := map[string]string{
		"broker.id":                      "1",
		HTTPAddrConfig:                   "127.0.0.1:18090",
		"num.partitions":                 "2",
		"log.dirs":                       "/var/lib/chronik",
		"advertised.listeners":           "PLAINTEXT://" + kc.addrs[1],
		"offsets.topic.num.partitions":   "16",
		"socket.request.max.bytes":       "104857600",
		"max.connections":                "10000",
		"queued.max.request.bytes":       "268435456",
		"transaction.max.timeout.ms":     "900000",
		"transactional.id.expiration.ms": "604800000",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("broker config %s = %q, want %q", k, got[k], v)
		}
	}

	req := kmsg.NewPtrDescribeConfigsRequest()
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeBroker, "9"
	req.Resources = append(req.Resources, r)
	if res := roundTrip[*kmsg.DescribeConfigsResponse](dialRaw(t, kc.addrs[1]), req).Resources[0]; res.ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("configs of broker 9 asked of broker 1: %v, want INVALID_REQUEST", kerr.ErrorForCode(res.ErrorCode))
	}
}
