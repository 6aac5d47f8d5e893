package kafka

// CreateTopics: v2-7
//
// Behaviour:
//   - Each topic is created through the engine (a __meta command that the
//     controller places), which waits until every partition has a leader;
//     the topics of one request are created side by side (at most
//     createConcurrency at once) and answered in request order;
//     the answer then waits (within TimeoutMillis, at most 5s) until this
//     broker's Metadata shows those leaders too, as Kafka waits for its
//     metadata cache, so a client producing right after sees no
//     LEADER_NOT_AVAILABLE.
//   - NumPartitions -1 and ReplicationFactor -1 mean the defaults
//     (Config.DefaultPartitions, else the engine's; min(3, brokers)).
//   - Manual ReplicaAssignment is refused with INVALID_REPLICA_ASSIGNMENT:
//     the controller places replicas.
//   - Configs are parsed by the engine; an unknown or malformed one answers
//     INVALID_CONFIG. A topic named twice answers INVALID_REQUEST.
//   - ValidateOnly checks names, counts and configs without creating.
//   - v5+ answers with the partition count, replication factor and configs
//     of the created topic; v7 with its topic ID.
//   - Authorization: Create on the cluster or on the topic, else
//     TOPIC_AUTHORIZATION_FAILED.
//
// Version notes:
//   - v1: ValidateOnly, ErrorMessage
//   - v4: -1 for default partitions and replication factor
//   - v5: flexible versions, NumPartitions, ReplicationFactor, Configs
//   - v7: TopicID

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

func init() { regKey(19, 2, 7, handleCreateTopics) }

// createConcurrency bounds the topics of one CreateTopics request that are
// being created at once.
const createConcurrency = 64

func handleCreateTopics(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	resp.Version = r.version
	ctx, cancel := adminContext(ctx, req.TimeoutMillis)
	defer cancel()

	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	// Every topic gets its slot in request order; the valid ones are then
	// created side by side, since each creation waits for its partitions'
	// first elections (a second or two) and a request may name hundreds.
	resp.Topics = make([]kmsg.CreateTopicsResponseTopic, len(req.Topics))
	var wg sync.WaitGroup
	sem := make(chan struct{}, createConcurrency)
	for i, rt := range req.Topics {
		t := &resp.Topics[i]
		*t = kmsg.NewCreateTopicsResponseTopic()
		t.Topic = rt.Topic
		setErr := func(code int16, err error) {
			t.ErrorCode = code
			t.ErrorMessage = errorMessage(err)
		}
		if seen[rt.Topic] > 1 {
			setErr(kerr.InvalidRequest.Code, fmt.Errorf("topic %q named more than once", rt.Topic))
			continue
		}
		if !s.mayCreateTopic(r, rt.Topic) {
			setErr(kerr.TopicAuthorizationFailed.Code, fmt.Errorf("not authorized to create topic %q", rt.Topic))
			continue
		}
		if len(rt.ReplicaAssignment) > 0 {
			setErr(kerr.InvalidReplicaAssignment.Code, fmt.Errorf("manual replica assignment is not supported; the controller places replicas"))
			continue
		}
		cfgs := make(map[string]string, len(rt.Configs))
		for _, c := range rt.Configs {
			if c.Value != nil {
				cfgs[c.Name] = *c.Value
			}
		}
		tc, err := parseTopicConfigs(cfgs)
		if err != nil {
			setErr(errorCode(err), err)
			continue
		}
		tc.Partitions = rt.NumPartitions
		if tc.Partitions == -1 {
			tc.Partitions = s.cfg.DefaultPartitions
		}
		tc.ReplicationFactor = rt.ReplicationFactor
		if tc.ReplicationFactor == -1 {
			tc.ReplicationFactor = 0
		}
		if tc.Partitions < -1 || rt.NumPartitions == 0 {
			setErr(kerr.InvalidPartitions.Code, fmt.Errorf("%w: %d", engine.ErrInvalidPartitions, rt.NumPartitions))
			continue
		}
		if rt.ReplicationFactor == 0 || rt.ReplicationFactor < -1 {
			setErr(kerr.InvalidReplicationFactor.Code, fmt.Errorf("%w: %d", engine.ErrInvalidReplicationFactor, rt.ReplicationFactor))
			continue
		}
		if req.ValidateOnly {
			if s.view(rt.Topic).byName[rt.Topic] != nil {
				setErr(kerr.TopicAlreadyExists.Code, fmt.Errorf("%w: %s", engine.ErrTopicExists, rt.Topic))
				continue
			}
			fillCreated(t, tc, nil)
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := s.be.CreateTopic(ctx, rt.Topic, tc); err != nil {
				setErr(controllerErrorCode(err), err)
				return
			}
			s.log.Info("created topic", "topic", rt.Topic, "partitions", tc.Partitions)
			waitLedInView(ctx, s, rt.Topic, 1)
			fillCreated(t, tc, s.view(rt.Topic).byName[rt.Topic])
		}()
	}
	wg.Wait()
	return resp, nil
}

// waitLedInView waits until this broker's metadata view shows topic with at
// least partitions partitions and a leader for every one, or ctx ends, or 5s
// passed; the topic exists either way.
func waitLedInView(ctx context.Context, s *Server, topic string, partitions int) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		if ti := s.view(topic).byName[topic]; ti != nil && len(ti.Partitions) >= max(partitions, 1) {
			led := true
			for i := range ti.Partitions {
				led = led && leaderOf(&ti.Partitions[i]) >= 0
			}
			if led {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// fillCreated sets the v5+ description of a created topic: from __meta when
// ti is known, else from the request.
func fillCreated(t *kmsg.CreateTopicsResponseTopic, tc engine.TopicConfig, ti *engine.TopicInfo) {
	if ti != nil {
		tc = ti.Config
		t.TopicID = ti.ID
		t.NumPartitions = int32(len(ti.Partitions))
		if len(ti.Partitions) > 0 {
			t.ReplicationFactor = int16(len(ti.Partitions[0].Replicas))
		}
	} else {
		t.NumPartitions = tc.Partitions
		t.ReplicationFactor = tc.ReplicationFactor
	}
	for _, e := range topicConfigEntries(tc) {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name = e.name
		val := e.value
		c.Value = &val
		c.Source = int8(kmsg.ConfigSourceDefaultConfig)
		if !e.isDefault {
			c.Source = int8(kmsg.ConfigSourceDynamicTopicConfig)
		}
		t.Configs = append(t.Configs, c)
	}
}
