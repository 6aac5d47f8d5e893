package kafka

// ConsumerGroupDescribe: v0-1 (KIP-848)
//
// Behaviour:
//   - Describes consumer groups (KIP-848) coordinated here: state (Empty,
//     Assigning, Reconciling, Stable), group epoch, target assignment
//     epoch, assignor, and each member with its member epoch, client,
//     subscription, current assignment and target assignment. A group
//     that does not exist or is a classic group answers
//     GROUP_ID_NOT_FOUND; groups coordinated elsewhere NOT_COORDINATOR.
//   - AuthorizedOperations is not computed (the "not requested" value).
//   - Authorization: Describe on each group, else
//     GROUP_AUTHORIZATION_FAILED; Describe on every topic of the members'
//     assignments, else TOPIC_AUTHORIZATION_FAILED for the group.
//
// Version notes:
//   - v1: SubscribedTopicRegex and MemberType per member

import (
	"context"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(69, 0, 1, handleConsumerGroupDescribe) }

func handleConsumerGroupDescribe(s *Server, _ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ConsumerGroupDescribeRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	resp.Version = r.version
	az := s.topicAuthorizer(r, acl.Describe)
	for _, name := range req.Groups {
		out := kmsg.NewConsumerGroupDescribeResponseGroup()
		out.Group = name
		if s.authorize(r, acl.Describe, acl.Group, name) {
			g, e := s.groups.DescribeConsumerGroup(name)
			if e == nil && !assignmentTopicsAllowed(&az, g) {
				e = kerr.TopicAuthorizationFailed
			}
			if e == nil {
				out = g
			}
			out.ErrorCode = errCode(e)
		} else {
			out.ErrorCode = kerr.GroupAuthorizationFailed.Code
		}
		out.AuthorizedOperations = math.MinInt32
		resp.Groups = append(resp.Groups, out)
	}
	return resp, nil
}

// assignmentTopicsAllowed reports whether every topic assigned to a member
// of g may be described.
func assignmentTopicsAllowed(az *topicAuthz, g kmsg.ConsumerGroupDescribeResponseGroup) bool {
	for _, m := range g.Members {
		for _, a := range []kmsg.Assignment{m.Assignment, m.TargetAssignment} {
			for _, t := range a.TopicPartitions {
				if t.Topic != "" && !az.ok(t.Topic) {
					return false
				}
			}
		}
	}
	return true
}
