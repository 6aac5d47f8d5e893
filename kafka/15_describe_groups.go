package kafka

// DescribeGroups: v0-5
//
// Behaviour:
//   - Answers each group coordinated here: state, protocol type, protocol
//     and members with client id, host, subscription metadata and
//     assignment. A group that does not exist is described as Dead with no
//     error (Kafka's answer); groups coordinated elsewhere get
//     NOT_COORDINATOR.
//   - Authorized operations (v3+) are not computed: chronik has no ACLs.
//
// Version notes:
//   - v1: ThrottleMillis
//   - v3: IncludeAuthorizedOperations
//   - v4: InstanceID per member
//   - v5: flexible versions

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(15, 0, 5, handleDescribeGroups) }

func handleDescribeGroups(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	resp.Version = r.version
	for _, name := range req.Groups {
		out := kmsg.NewDescribeGroupsResponseGroup()
		out.Group = name
		out.State = groupDead.String()
		cp, e := s.groups.partitionOf(name)
		if e != nil {
			out.ErrorCode = e.Code
			resp.Groups = append(resp.Groups, out)
			continue
		}
		if g := cp.lookup(name, false); g != nil {
			g.describe(&out)
			g.mu.Unlock()
		}
		resp.Groups = append(resp.Groups, out)
	}
	return resp, nil
}

func (g *group) describe(out *kmsg.DescribeGroupsResponseGroup) {
	out.State = g.state.String()
	out.ProtocolType = g.protocolType
	if g.state == groupStable || g.state == groupCompletingRebalance {
		out.Protocol = g.protocol
	}
	ids := make([]string, 0, len(g.members))
	for id := range g.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := g.members[id]
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		if g.state == groupStable || g.state == groupCompletingRebalance {
			for _, p := range m.join.Protocols {
				if p.Name == g.protocol {
					dm.ProtocolMetadata = p.Metadata
				}
			}
			dm.MemberAssignment = m.assignment
		}
		out.Members = append(out.Members, dm)
	}
}
