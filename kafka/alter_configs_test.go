package kafka

import (
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// IncrementalAlterConfigs and AlterConfigs through kadm: set, delete,
// append and subtract change what DescribeConfigs reports and what produce
// enforces; validate-only, bad values, list ops on scalar configs, broker
// resources and duplicate resources are refused without a change.
func TestAlterConfigs(t *testing.T) {
	kc := newKafkaCluster(t, 1, Config{})
	kc.CreateTopic(t, "cfg", engine.TopicConfig{Partitions: 1, MaxMessageBytes: 1024})
	adm := kc.admin(t)
	ctx := testCtx(t, time.Minute)
	described := func() map[string]string {
		t.Helper()
		rcs, err := adm.DescribeTopicConfigs(ctx, "cfg")
		if err != nil {
			t.Fatal(err)
		}
		rc, err := rcs.On("cfg", nil)
		if err != nil || rc.Err != nil {
			t.Fatalf("describe: %v %v", err, rc.Err)
		}
		out := map[string]string{}
		for _, c := range rc.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				out[c.Key] = *c.Value
			}
		}
		return out
	}
	alter := func(state bool, validate bool, cfgs ...kadm.AlterConfig) error {
		t.Helper()
		var rs kadm.AlterConfigsResponses
		var err error
		switch {
		case state && validate:
			rs, err = adm.ValidateAlterTopicConfigsState(ctx, cfgs, "cfg")
		case state:
			rs, err = adm.AlterTopicConfigsState(ctx, cfgs, "cfg")
		case validate:
			rs, err = adm.ValidateAlterTopicConfigs(ctx, cfgs, "cfg")
		default:
			rs, err = adm.AlterTopicConfigs(ctx, cfgs, "cfg")
		}
		if err != nil {
			t.Fatal(err)
		}
		r, _ := rs.On("cfg", nil)
		return r.Err
	}
	set := func(k, v string) kadm.AlterConfig { return kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v} }

	prod := kc.client(t, kgo.RecordRetries(1), kgo.ProducerBatchCompression(kgo.NoCompression()))
	big := &kgo.Record{Topic: "cfg", Key: []byte("k"), Value: make([]byte, 4096)}
	if err := prod.ProduceSync(ctx, big).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("4 KiB under max.message.bytes=1024: %v", err)
	}
	if err := alter(false, false, set("max.message.bytes", "1048576"), set("retention.ms", "86400000"),
		kadm.AlterConfig{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: ptr("compact")}); err != nil {
		t.Fatalf("incremental alter: %v", err)
	}
	want := map[string]string{"max.message.bytes": "1048576", "retention.ms": "86400000", "cleanup.policy": "delete,compact"}
	if got := described(); !maps.Equal(got, want) {
		t.Fatalf("after incremental alter: %v, want %v", got, want)
	}
	if err := prod.ProduceSync(ctx, big).FirstErr(); err != nil {
		t.Fatalf("4 KiB after raising max.message.bytes: %v", err)
	}

	refused := []struct {
		name string
		cfg  kadm.AlterConfig
		want *kerr.Error
	}{
		{"bad value", set("retention.ms", "soon"), kerr.InvalidConfig},
		{"unknown config", set("no.such.config", "1"), kerr.InvalidConfig},
		{"append to a scalar config", kadm.AlterConfig{Op: kadm.AppendConfig, Name: "retention.ms", Value: ptr("1")}, kerr.InvalidConfig},
		{"subtract every policy", kadm.AlterConfig{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: ptr("delete,compact")}, kerr.InvalidConfig},
	}
	for _, tc := range refused {
		if err := alter(false, false, tc.cfg); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want.Message)
		}
	}
	if err := alter(false, true, set("retention.ms", "1000")); err != nil {
		t.Fatalf("validate only: %v", err)
	}
	if got := described(); !maps.Equal(got, want) {
		t.Fatalf("after refused and validate-only changes: %v, want %v", got, want)
	}

	// DELETE and SUBTRACT.
	if err := alter(false, false, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "retention.ms"},
		kadm.AlterConfig{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: ptr("delete")}); err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"max.message.bytes": "1048576", "cleanup.policy": "compact"}
	if got := described(); !maps.Equal(got, want) {
		t.Fatalf("after delete and subtract: %v, want %v", got, want)
	}

	// The legacy AlterConfigs replaces the whole set.
	if err := alter(true, false, set("segment.bytes", "1048576")); err != nil {
		t.Fatalf("legacy alter: %v", err)
	}
	want = map[string]string{"segment.bytes": "1048576"}
	if got := described(); !maps.Equal(got, want) {
		t.Fatalf("after legacy alter: %v, want %v", got, want)
	}

	// Broker resources, unknown topics and duplicate resources.
	if rs, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{set("log.retention.ms", "1")}, 1); err != nil {
		t.Fatal(err)
	} else if r, _ := rs.On("1", nil); !errors.Is(r.Err, kerr.InvalidConfig) {
		t.Errorf("broker config: %v, want INVALID_CONFIG", r.Err)
	}
	if rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{set("retention.ms", "1")}, "nope"); err != nil {
		t.Fatal(err)
	} else if r, _ := rs.On("nope", nil); !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("unknown topic: %v", r.Err)
	}
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	for range 2 {
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "cfg"
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = "retention.ms", ptr("5")
		rr.Configs = append(rr.Configs, c)
		req.Resources = append(req.Resources, rr)
	}
	for _, res := range roundTrip[*kmsg.IncrementalAlterConfigsResponse](dialRaw(t, kc.addrs[1]), req).Resources {
		if res.ErrorCode != kerr.InvalidRequest.Code {
			t.Errorf("resource named twice: %v, want INVALID_REQUEST", kerr.ErrorForCode(res.ErrorCode))
		}
	}
	if got := described(); !maps.Equal(got, want) {
		t.Fatalf("after refused requests: %v, want %v", got, want)
	}
}
