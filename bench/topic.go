package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicReadyTimeout bounds the wait for a new topic's partitions to have
// leaders.
const topicReadyTimeout = 30 * time.Second

// ensureTopic creates topic with the given partitions and replication factor
// (0 = the broker's default) unless it exists, waits until every partition
// has a leader that serves, and returns the topic's real partition count.
func ensureTopic(ctx context.Context, cl *kgo.Client, topic string, partitions int32, rf int16) (int32, error) {
	adm := kadm.NewClient(cl)
	n, err := topicPartitions(ctx, cl, topic)
	if err == nil && n > 0 {
		return n, waitServing(ctx, cl, topic, n)
	}
	if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return 0, fmt.Errorf("bench: describe topic %q: %w", topic, err)
	}
	if rf == 0 {
		rf = -1 // the broker's default
	}
	resp, err := adm.CreateTopic(ctx, partitions, rf, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return 0, fmt.Errorf("bench: create topic %q (partitions %d, replication factor %d): %w", topic, partitions, rf, err)
	}
	deadline := time.Now().Add(topicReadyTimeout)
	for {
		n, err := topicPartitions(ctx, cl, topic)
		if err == nil && n > 0 {
			return n, waitServing(ctx, cl, topic, n)
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("partitions without a leader")
			}
			return 0, fmt.Errorf("bench: topic %q not ready after %s: %w", topic, topicReadyTimeout, err)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("bench: wait for topic %q: %w", topic, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// topicPartitions returns the partition count of topic when every partition
// has a leader, 0 when some have none, or the topic's error. It sends a
// Metadata request of its own: the client's cached metadata may be seconds
// old and miss a topic just created.
func topicPartitions(ctx context.Context, cl *kgo.Client, topic string) (int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = false
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return 0, err
		}
		if len(t.Partitions) == 0 {
			return 0, nil
		}
		for _, p := range t.Partitions {
			err := kerr.ErrorForCode(p.ErrorCode)
			if err != nil && !errors.Is(err, kerr.LeaderNotAvailable) {
				return 0, err
			}
			if p.Leader < 0 || err != nil {
				return 0, nil
			}
		}
		return int32(len(t.Partitions)), nil
	}
	return 0, kerr.UnknownTopicOrPartition
}

// waitServing waits until every one of the topic's n partitions answers
// ListOffsets without an error. Metadata may name a leader that is still
// starting (after a restart, say); a run's clock must not include that.
func waitServing(ctx context.Context, cl *kgo.Client, topic string, n int32) error {
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(topicReadyTimeout)
	for {
		lo, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = lo.Error()
		}
		if err == nil && int32(len(lo[topic])) != n {
			err = fmt.Errorf("%d of %d partitions answered", len(lo[topic]), n)
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: topic %q: partitions not serving after %s: %w", topic, topicReadyTimeout, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: wait for topic %q: %w", topic, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
