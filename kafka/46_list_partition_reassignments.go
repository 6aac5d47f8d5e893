package kafka

// ListPartitionReassignments: v0
//
// Behaviour:
//   - Lists the partition reassignments in progress (see
//     AlterPartitionReassignments) from this broker's __meta replica: per
//     partition Replicas (the current replicas followed by the target's new
//     ones), AddingReplicas (new replicas still catching up or not added
//     yet) and RemovingReplicas (replicas that leave once those caught up).
//   - Null Topics lists every partition being moved; named topics and
//     partitions only those of them being moved (others are left out, as
//     Kafka does).
//   - Authorization: Describe on the cluster, else
//     CLUSTER_AUTHORIZATION_FAILED for the whole request.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(46, 0, 0, handleListPartitionReassignments) }

func handleListPartitionReassignments(s *Server, _ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ListPartitionReassignmentsRequest)
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	resp.Version = r.version
	if !s.authorizeCluster(r, acl.Describe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}
	var topics []string
	wanted := map[string][]int32{}
	for _, rt := range req.Topics {
		topics = append(topics, rt.Topic)
		wanted[rt.Topic] = append(wanted[rt.Topic], rt.Partitions...)
	}
	if req.Topics != nil && len(topics) == 0 {
		return resp, nil // an empty list asks for nothing
	}
	var cur *kmsg.ListPartitionReassignmentsResponseTopic
	for _, re := range s.be.ListReassignments(topics...) {
		if req.Topics != nil && !slices.Contains(wanted[re.Topic], re.Partition) {
			continue
		}
		if cur == nil || cur.Topic != re.Topic {
			resp.Topics = append(resp.Topics, kmsg.NewListPartitionReassignmentsResponseTopic())
			cur = &resp.Topics[len(resp.Topics)-1]
			cur.Topic = re.Topic
		}
		p := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		p.Partition = re.Partition
		p.Replicas, p.AddingReplicas, p.RemovingReplicas = int32s(re.Replicas), int32s(re.Adding), int32s(re.Removing)
		cur.Partitions = append(cur.Partitions, p)
	}
	return resp, nil
}
