package proctest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// checkTopicCommands drives topic create, list, describe, alter and delete with
// --json against the cluster.
func checkTopicCommands(t *testing.T, c *cluster) {
	t.Helper()
	brokers := strings.Join(c.kafkaAddrs(), ",")
	runCLI(t, "topic", "create", "--brokers", brokers, "-p", "4", "-r", "2", "-c", "retention.ms=60000", "adm1", "adm2")
	var list []struct {
		Topic             string
		Partitions        int
		ReplicationFactor int `json:"replication_factor"`
	}
	if err := json.Unmarshal(runCLI(t, "topic", "list", "--json", "--brokers", brokers), &list); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, tp := range list {
		if strings.HasPrefix(tp.Topic, "adm") {
			found++
			if tp.Partitions != 4 || tp.ReplicationFactor != 2 {
				t.Errorf("topic list: %+v, want 4 partitions of 2 replicas", tp)
			}
		}
	}
	if found != 2 {
		t.Errorf("topic list --json lists %d of the 2 created topics: %+v", found, list)
	}
	var parts []partitionJSON
	if err := json.Unmarshal(runCLI(t, "topic", "describe", "--json", "--brokers", brokers, "adm1"), &parts); err != nil {
		t.Fatal(err)
	}
	if len(parts) != 4 {
		t.Fatalf("topic describe: %d partitions, want 4", len(parts))
	}
	for _, p := range parts {
		if p.Leader < 1 || len(p.Replicas) != 2 || p.HighWatermark != 0 || p.Error != "" {
			t.Errorf("topic describe: %+v", p)
		}
	}
	runCLI(t, "topic", "alter", "--brokers", brokers, "-p", "6", "-c", "retention.ms=120000", "--delete-config", "segment.bytes", "adm2")
	if err := json.Unmarshal(runCLI(t, "topic", "describe", "--json", "--brokers", brokers, "adm2"), &parts); err != nil {
		t.Fatal(err)
	}
	if len(parts) != 6 {
		t.Fatalf("topic describe after alter -p 6: %d partitions, want 6", len(parts))
	}
	for _, p := range parts {
		if p.Leader < 1 || len(p.Replicas) != 2 || p.Error != "" {
			t.Errorf("topic describe after alter: %+v", p)
		}
	}
	adm := admin(t, c.kafkaAddrs())
	rcs, err := adm.DescribeTopicConfigs(context.Background(), "adm2")
	if err != nil {
		t.Fatal(err)
	}
	if rc, err := rcs.On("adm2", nil); err != nil || rc.Err != nil {
		t.Fatalf("describe configs of adm2: %v %v", err, rc.Err)
	} else {
		for _, cfg := range rc.Configs {
			if cfg.Key == "retention.ms" && (cfg.Value == nil || *cfg.Value != "120000") {
				t.Errorf("retention.ms of adm2 after topic alter -c retention.ms=120000: %v", cfg.MaybeValue())
			}
		}
	}
	runCLI(t, "topic", "delete", "--brokers", brokers, "adm1")
	if err := json.Unmarshal(runCLI(t, "topic", "list", "--json", "--brokers", brokers), &list); err != nil {
		t.Fatal(err)
	}
	for _, tp := range list {
		if tp.Topic == "adm1" {
			t.Error("topic adm1 still listed after delete")
		}
	}
}

// partitionJSON is one partition of topic describe --json.
type partitionJSON struct {
	Topic         string
	Partition     int32
	Leader        int32
	LeaderEpoch   int32 `json:"leader_epoch"`
	Replicas      []int32
	HighWatermark int64 `json:"high_watermark"`
	Error         string
}
