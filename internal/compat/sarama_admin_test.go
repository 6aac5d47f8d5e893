package compat

import (
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// saramaAdmin checks sarama's ClusterAdmin calls other than CreateTopic on
// topic (3 partitions, holding records) and group (committed, no members),
// ending with growing the topic to 5 partitions and deleting both.
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
	if err := admin.CreatePartitions(topic, partitions+2, nil, false); err != nil {
		t.Errorf("CreatePartitions %s to %d: %v", topic, partitions+2, err)
	} else {
		deadline := time.Now().Add(10 * time.Second)
		for {
			md, err := admin.DescribeTopics([]string{topic})
			if err == nil && len(md) == 1 && len(md[0].Partitions) == partitions+2 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("DescribeTopics %s after CreatePartitions: %v, %+v; want %d partitions", topic, err, md, partitions+2)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err := admin.CreatePartitions(topic, partitions, nil, false); err == nil {
		t.Errorf("CreatePartitions %s back to %d: no error, want INVALID_PARTITIONS", topic, partitions)
	}
	if err := admin.DeleteTopic(topic); err != nil {
		t.Errorf("DeleteTopic %s: %v", topic, err)
	}
}
