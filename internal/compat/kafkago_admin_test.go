package compat

import (
	"context"
	"testing"

	kafka "github.com/segmentio/kafka-go"
)

// kafkaGoAdmin checks kafka-go's Client admin calls other than CreateTopics
// on topic (3 partitions) and group (committed, no members).
func kafkaGoAdmin(ctx context.Context, t *testing.T, client *kafka.Client, nodes int, topic, group string) {
	t.Helper()
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		t.Fatalf("Metadata %s: %v", topic, err)
	}
	if len(md.Brokers) != nodes || md.Controller.Port == 0 || len(md.Topics) != 1 || md.Topics[0].Error != nil || len(md.Topics[0].Partitions) != partitions {
		t.Errorf("Metadata %s: %d brokers, controller %+v, topics %+v; want %d brokers, one topic of %d partitions", topic, len(md.Brokers), md.Controller, md.Topics, nodes, partitions)
	}
	for _, p := range md.Topics[0].Partitions {
		if p.Leader.Port == 0 || len(p.Replicas) != nodes || len(p.Isr) == 0 {
			t.Errorf("Metadata %s partition %d: leader %+v, replicas %d, isr %d", topic, p.ID, p.Leader, len(p.Replicas), len(p.Isr))
		}
	}
	dc, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{ResourceType: kafka.ResourceTypeTopic, ResourceName: topic}}})
	if err != nil || len(dc.Resources) != 1 || dc.Resources[0].Error != nil || len(dc.Resources[0].ConfigEntries) == 0 {
		t.Errorf("DescribeConfigs %s: %v, %+v", topic, err, dc)
	}
	dg, err := client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil || len(dg.Groups) != 1 || dg.Groups[0].Error != nil || dg.Groups[0].GroupState != "Empty" {
		t.Errorf("DescribeGroups %s: %v, %+v; want one Empty group", group, err, dg)
	}
	if nodes == 1 { // ListGroups asks one broker, which lists the groups it coordinates
		lg, err := client.ListGroups(ctx, &kafka.ListGroupsRequest{})
		found := false
		if err == nil && lg.Error == nil {
			for _, g := range lg.Groups {
				found = found || g.GroupID == group && g.ProtocolType == "consumer"
			}
		}
		if !found {
			t.Errorf("ListGroups: %v, %+v; want %s with protocol type consumer", err, lg, group)
		}
	}
	dt, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	if err != nil || dt.Errors[topic] != nil {
		t.Errorf("DeleteTopics %s: %v, %v", topic, err, dt)
	}
}
