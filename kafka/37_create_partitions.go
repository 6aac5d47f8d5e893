package kafka

// CreatePartitions: v0-3
//
// Behaviour:
//   - Each topic's partition count is raised through the engine (a __meta
//     command; the controller places the new partitions with the topic's
//     replication factor), which waits until every partition has a leader;
//     the answer then waits (within TimeoutMillis, at most 5s) until this
//     broker's Metadata shows them, as CreateTopics does.
//   - A count not above the current one, over the limit, or of an internal
//     topic answers INVALID_PARTITIONS; an unknown topic
//     UNKNOWN_TOPIC_OR_PARTITION; a replication factor above the registered
//     brokers INVALID_REPLICATION_FACTOR; a topic named twice INVALID_REQUEST.
//   - A manual Assignment is refused with INVALID_REPLICA_ASSIGNMENT: the
//     controller places replicas.
//   - ValidateOnly runs the same checks without adding anything.
//   - Authorization: Alter on the topic, else TOPIC_AUTHORIZATION_FAILED.
//
// Version notes:
//   - v1: same as v0
//   - v2: flexible versions
//   - v3: same as v2

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(37, 0, 3, handleCreatePartitions) }

func handleCreatePartitions(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	resp.Version = r.version
	ctx, cancel := adminContext(ctx, req.TimeoutMillis)
	defer cancel()

	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		t := kmsg.NewCreatePartitionsResponseTopic()
		t.Topic = rt.Topic
		var err error
		switch {
		case seen[rt.Topic] > 1:
			t.ErrorCode = kerr.InvalidRequest.Code
			err = fmt.Errorf("topic %q named more than once", rt.Topic)
		case !s.authorize(r, acl.Alter, acl.Topic, rt.Topic):
			t.ErrorCode = kerr.TopicAuthorizationFailed.Code
			err = fmt.Errorf("not authorized to alter topic %q", rt.Topic)
		case len(rt.Assignment) > 0:
			t.ErrorCode = kerr.InvalidReplicaAssignment.Code
			err = fmt.Errorf("manual replica assignment is not supported; the controller places replicas")
		case req.ValidateOnly:
			err = s.be.CheckCreatePartitions(rt.Topic, rt.Count)
		default:
			if err = s.be.CreatePartitions(ctx, rt.Topic, rt.Count); err == nil {
				s.log.Info("added partitions", "topic", rt.Topic, "partitions", rt.Count)
				waitLedInView(ctx, s, rt.Topic, int(rt.Count))
			}
		}
		if err != nil {
			if t.ErrorCode == 0 {
				t.ErrorCode = controllerErrorCode(err)
			}
			t.ErrorMessage = errorMessage(err)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp, nil
}
