package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/bench"
)

// TestGroupCommands runs group list, describe (with lag), reset-offsets and
// delete against an embedded broker holding one group's commits.
func TestGroupCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a chronik broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := bench.StartEmbedded(ctx, bench.EmbeddedConfig{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	brokers := strings.Join(cl.Brokers(), ",")
	kc, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers()...), kgo.RetryTimeout(30*time.Second), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	adm := kadm.NewClient(kc)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "events"); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := kc.ProduceSync(ctx, &kgo.Record{Topic: "events", Partition: int32(i % 2), Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: "events", Partition: 0, At: 2, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: "events", Partition: 1, At: 5, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, "billing", offs); err != nil {
		t.Fatal(err)
	}

	out, err := runApp(t, "group", "list", "--brokers", brokers, "--json")
	if err != nil {
		t.Fatalf("group list: %v", err)
	}
	var listed []GroupListing
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 1 || listed[0].Group != "billing" || listed[0].State != "Empty" {
		t.Fatalf("group list: %v %s", err, out)
	}

	out, err = runApp(t, "group", "describe", "--brokers", brokers, "--json", "billing")
	if err != nil {
		t.Fatalf("group describe: %v", err)
	}
	var desc []GroupDescription
	if err := json.Unmarshal([]byte(out), &desc); err != nil || len(desc) != 1 {
		t.Fatalf("group describe: %v %s", err, out)
	}
	// Partition 0 holds 5 records (committed 2: lag 3), partition 1 too
	// (committed 5: lag 0).
	if d := desc[0]; d.TotalLag != 3 || len(d.Partitions) != 2 || d.Partitions[0].Lag != 3 || d.Partitions[1].Lag != 0 {
		t.Fatalf("describe: %+v", d)
	}
	if text, err := runApp(t, "group", "describe", "--brokers", brokers, "billing"); err != nil || !strings.Contains(text, "total lag 3") {
		t.Fatalf("describe table: %v\n%s", err, text)
	}

	// Dry run changes nothing; --execute commits.
	if _, err := runApp(t, "group", "reset-offsets", "--brokers", brokers, "--to-earliest", "billing"); err != nil {
		t.Fatalf("reset dry run: %v", err)
	}
	out, err = runApp(t, "group", "reset-offsets", "--brokers", brokers, "--shift-by", "-1", "--topic", "events", "--execute", "--json", "billing")
	if err != nil {
		t.Fatalf("reset: %v", err)
	}
	var plan []OffsetReset
	if err := json.Unmarshal([]byte(out), &plan); err != nil || len(plan) != 2 || plan[0].New != 1 || plan[1].New != 4 {
		t.Fatalf("reset plan: %v %s", err, out)
	}
	got, err := adm.FetchOffsets(ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := got.Lookup("events", 0); o.At != 1 {
		t.Fatalf("after reset partition 0 at %d, want 1", o.At)
	}
	if _, err := runApp(t, "group", "reset-offsets", "--brokers", brokers, "billing"); err == nil {
		t.Fatal("reset without a mode succeeded")
	}

	if out, err := runApp(t, "group", "delete", "--brokers", brokers, "billing"); err != nil || !strings.Contains(out, "deleted") {
		t.Fatalf("group delete: %v %s", err, out)
	}
	if _, err := runApp(t, "group", "delete", "--brokers", brokers, "billing"); err == nil {
		t.Fatal("deleting a deleted group succeeded")
	}

	// A KIP-848 consumer group: describe shows its epochs and assignments.
	consumer, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers()...), kgo.ConsumerGroup("orders848"), kgo.ConsumeTopics("events"),
		kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	for n := 0; n < 10 && ctx.Err() == nil; {
		n += consumer.PollFetches(ctx).NumRecords()
	}
	out, err = runApp(t, "group", "describe", "--brokers", brokers, "--json", "orders848")
	if err != nil {
		t.Fatalf("describe consumer group: %v", err)
	}
	desc = nil
	if err := json.Unmarshal([]byte(out), &desc); err != nil || len(desc) != 1 {
		t.Fatalf("describe consumer group: %v %s", err, out)
	}
	d := desc[0]
	if d.Type != "consumer" || d.Protocol != "range" || d.GroupEpoch < 1 || len(d.Members) != 1 ||
		d.Members[0].MemberEpoch == nil || *d.Members[0].MemberEpoch < 1 || len(d.Members[0].Assignment["events"]) != 2 {
		t.Fatalf("describe consumer group: %s", out)
	}
	if text, err := runApp(t, "group", "describe", "--brokers", brokers, "orders848"); err != nil || !strings.Contains(text, "consumer group (KIP-848)") ||
		!strings.Contains(text, "events[0 1]") {
		t.Fatalf("describe consumer group table: %v\n%s", err, text)
	}
	if out, err := runApp(t, "group", "list", "--brokers", brokers); err != nil || !strings.Contains(out, "orders848  consumer") {
		t.Fatalf("group list: %v\n%s", err, out)
	}
	// A share group: describe shows its members and start offsets.
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, "orders-share"
	cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	cfg.Name, cfg.Value = "share.auto.offset.reset", kmsg.StringPtr("earliest")
	res.Configs = append(res.Configs, cfg)
	req.Resources = append(req.Resources, res)
	if resp, err := req.RequestWith(ctx, kc); err != nil || resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("set share.auto.offset.reset: %v %+v", err, resp)
	}
	sharer, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers()...), kgo.ShareGroup("orders-share"), kgo.ConsumeTopics("events"))
	if err != nil {
		t.Fatal(err)
	}
	defer sharer.Close()
	for n := 0; n < 10 && ctx.Err() == nil; {
		n += sharer.PollFetches(ctx).NumRecords()
	}
	out, err = runApp(t, "group", "describe", "--brokers", brokers, "--json", "orders-share")
	if err != nil {
		t.Fatalf("describe share group: %v", err)
	}
	desc = nil
	if err := json.Unmarshal([]byte(out), &desc); err != nil || len(desc) != 1 {
		t.Fatalf("describe share group: %v %s", err, out)
	}
	if d := desc[0]; d.Type != "share" || len(d.Members) != 1 || len(d.Members[0].Assignment["events"]) != 2 || len(d.Partitions) != 2 ||
		d.Partitions[0].Committed < 0 || d.Partitions[0].End != 5 {
		t.Fatalf("describe share group: %s", out)
	}
	if text, err := runApp(t, "group", "describe", "--brokers", brokers, "orders-share"); err != nil || !strings.Contains(text, "share group (KIP-932)") ||
		!strings.Contains(text, "START-OFFSET") {
		t.Fatalf("describe share group table: %v\n%s", err, text)
	}
}
