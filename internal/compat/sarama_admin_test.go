package compat

import (
	"testing"

	"github.com/IBM/sarama"
)

// saramaAdmin checks sarama's ClusterAdmin calls other than CreateTopic on
// topic (3 partitions, holding records) and group (committed, no members),
// ending with deleting both.
func saramaAdmin(t *testing.T, admin sarama.ClusterAdmin, nodes int, topic, group string) {
	t.Helper()
	brokers, controller, err := admin.DescribeCluster()
	if err != nil || len(brokers) != nodes || controller < 0 {
		t.Errorf("DescribeCluster: %d brokers, controller %d, %v; want %d brokers", len(brokers), controller, err, nodes)
	}
	topics, err := admin.ListTopics()
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	if d, ok := topics[topic]; !ok || d.NumPartitions != partitions {
		t.Errorf("ListTopics: %s: %+v (listed %t), want %d partitions", topic, d, ok, partitions)
	}
	md, err := admin.DescribeTopics([]string{topic})
	if err != nil || len(md) != 1 || md[0].Err != sarama.ErrNoError || len(md[0].Partitions) != partitions {
		t.Errorf("DescribeTopics %s: %v, %+v", topic, err, md)
	}
	for _, p := range md[0].Partitions {
		if p.Leader < 0 || len(p.Replicas) != nodes || len(p.Isr) == 0 {
			t.Errorf("DescribeTopics %s partition %d: leader %d, replicas %v, isr %v", topic, p.ID, p.Leader, p.Replicas, p.Isr)
		}
	}
	entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	if err != nil || len(entries) == 0 {
		t.Errorf("DescribeConfig %s: %d entries, %v", topic, len(entries), err)
	}
	groups, err := admin.ListConsumerGroups()
	if err != nil || groups[group] != "consumer" {
		t.Errorf("ListConsumerGroups: %v, %v; want %s with protocol type consumer", groups, err, group)
	}
	gd, err := admin.DescribeConsumerGroups([]string{group})
	if err != nil || len(gd) != 1 || gd[0].Err != sarama.ErrNoError || gd[0].State != "Empty" {
		t.Errorf("DescribeConsumerGroups %s: %v, %+v; want one Empty group", group, err, gd)
	}
	if err := admin.DeleteConsumerGroup(group); err != nil {
		t.Errorf("DeleteConsumerGroup %s: %v", group, err)
	}
	if err := admin.DeleteTopic(topic); err != nil {
		t.Errorf("DeleteTopic %s: %v", topic, err)
	}
}
