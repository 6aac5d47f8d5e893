package kafka

// ListGroups: v0-5
//
// Behaviour:
//   - Lists the groups this broker coordinates (clients ask every broker
//     and merge), with protocol type; v4+ with state, filtered by
//     StatesFilter (case-insensitive); v5+ with type "classic" or
//     "consumer" (KIP-848 groups, protocol type "consumer"), filtered by
//     TypesFilter.
//   - While a __consumer_offsets partition led here is still loading, the
//     answer is COORDINATOR_LOAD_IN_PROGRESS.
//   - Authorization: Describe on the cluster lists every group; otherwise only
//     the groups the principal may Describe are listed.
//
// Version notes:
//   - v1: ThrottleMillis
//   - v3: flexible versions
//   - v4: StatesFilter and GroupState (KIP-518)
//   - v5: TypesFilter and GroupType (KIP-848)

import (
	"context"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(16, 0, 5, handleListGroups) }

func handleListGroups(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	resp.Version = r.version
	groups, e := s.groups.ListGroups()
	if e != nil {
		resp.ErrorCode = e.Code
		return resp, nil
	}
	match := func(filter []string, v string) bool {
		if len(filter) == 0 {
			return true
		}
		for _, f := range filter {
			if strings.EqualFold(f, v) {
				return true
			}
		}
		return false
	}
	// Without Describe on the cluster, only the groups the principal may
	// Describe are listed, as in Kafka.
	everyGroup := s.authorizeCluster(r, acl.Describe)
	for _, g := range groups {
		if !everyGroup && !s.authorize(r, acl.Describe, acl.Group, g.Name) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = g.Name, g.ProtocolType, g.State, g.Type
		if !match(req.StatesFilter, lg.GroupState) || !match(req.TypesFilter, lg.GroupType) {
			continue
		}
		resp.Groups = append(resp.Groups, lg)
	}
	sort.Slice(resp.Groups, func(i, j int) bool { return resp.Groups[i].Group < resp.Groups[j].Group })
	return resp, nil
}
