package kafka

// AlterPartitionReassignments: v0-1
//
// Behaviour:
//   - Each partition's Replicas (broker ids, the first the new preferred
//     leader) become the target of a reassignment through the engine
//     (engine.Engine.ReassignPartition): Raft membership changes driven by
//     the partition's leader. The answer comes once __meta has recorded the
//     request, not when the move is done (as Kafka answers);
//     ListPartitionReassignments shows it until then.
//   - Null Replicas cancels the partition's reassignment in progress: it
//     moves back onto the brokers it had before (NO_REASSIGNMENT_IN_PROGRESS
//     if none is).
//   - An unknown topic or partition answers UNKNOWN_TOPIC_OR_PARTITION; no
//     replicas, a broker named twice, or a broker that is not registered
//     INVALID_REPLICA_ASSIGNMENT.
//   - Any broker answers: the request goes to __meta from there.
//   - Authorization: Alter on the cluster, else CLUSTER_AUTHORIZATION_FAILED
//     for the whole request.
//
// Version notes:
//   - v1: AllowReplicationFactorChange; when false, a target with another
//     number of replicas than the partition has answers
//     INVALID_REPLICATION_FACTOR.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/engine"
)

func init() { regKey(45, 0, 1, handleAlterPartitionReassignments) }

func handleAlterPartitionReassignments(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.AlterPartitionAssignmentsRequest)
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.Version = r.version
	resp.AllowReplicationFactorChange = req.AllowReplicationFactorChange
	if !s.authorizeCluster(r, acl.Alter) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}
	ctx, cancel := adminContext(ctx, req.TimeoutMillis)
	defer cancel()
	for _, rt := range req.Topics {
		t := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			p.Partition = rp.Partition
			err := s.reassignOne(ctx, r.version, req.AllowReplicationFactorChange, rt.Topic, rp)
			if err != nil {
				p.ErrorCode = errorCode(err)
				p.ErrorMessage = errorMessage(err)
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp, nil
}

// reassignOne validates one partition's request and passes it on.
func (s *Server) reassignOne(ctx context.Context, version int16, allowRF bool, topic string, rp kmsg.AlterPartitionAssignmentsRequestTopicPartition) error {
	var brokers []uint64 // nil: cancel
	if rp.Replicas != nil {
		brokers = make([]uint64, 0, len(rp.Replicas))
		for _, b := range rp.Replicas {
			if b <= 0 {
				return fmt.Errorf("broker id %d: %w", b, engine.ErrInvalidReplicaAssignment)
			}
			brokers = append(brokers, uint64(b))
		}
	}
	if brokers != nil && version >= 1 && !allowRF {
		if have := s.replicationFactor(topic, rp.Partition); have > 0 && have != len(brokers) {
			return &codedError{code: kerr.InvalidReplicationFactor, err: fmt.Errorf("partition %s-%d has %d replicas, the target %d, and the request does not allow a replication factor change", topic, rp.Partition, have, len(brokers))}
		}
	}
	err := s.be.ReassignPartition(ctx, topic, rp.Partition, brokers)
	if err == nil {
		s.log.Info("partition reassignment accepted", "topic", topic, "partition", rp.Partition, "replicas", rp.Replicas)
	}
	return err
}

// replicationFactor is the number of replicas of a partition as this
// broker's __meta replica shows it (the target's, with a reassignment under
// way), 0 if unknown.
func (s *Server) replicationFactor(topic string, partition int32) int {
	for _, r := range s.be.ListReassignments(topic) {
		if r.Partition == partition {
			return len(r.Target)
		}
	}
	md := s.be.Metadata(topic)
	if len(md.Topics) == 0 || partition < 0 || int(partition) >= len(md.Topics[0].Partitions) {
		return 0
	}
	return len(md.Topics[0].Partitions[partition].Replicas)
}
