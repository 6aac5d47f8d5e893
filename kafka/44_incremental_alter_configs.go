package kafka

// IncrementalAlterConfigs: v0-1
//
// Behaviour:
//   - TOPIC resources: SET gives a config a value, DELETE returns it to its
//     default, APPEND and SUBTRACT add or remove items of a list config
//     (cleanup.policy). The change goes through __meta (the engine validates
//     the result as CreateTopics does: unknown names and bad values answer
//     INVALID_CONFIG) and takes effect on every replica; DescribeConfigs
//     then reports the set values as DYNAMIC_TOPIC_CONFIG.
//   - ValidateOnly checks without changing anything.
//   - BROKER and BROKER_LOGGER resources: INVALID_CONFIG for any config
//     (chronik's broker settings are `chronik start` flags); other types
//     INVALID_REQUEST. A resource or config named twice: INVALID_REQUEST.
//   - Authorization: AlterConfigs on the topic (on the cluster for a broker),
//     else TOPIC_ (CLUSTER_) AUTHORIZATION_FAILED for the resource.
//
// Version notes:
//   - v1: flexible versions

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/engine"
)

func init() { regKey(44, 0, 1, handleIncrementalAlterConfigs) }

func handleIncrementalAlterConfigs(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	resp.Version = r.version
	v := s.view()
	alts := make([]configAlteration, len(req.Resources))
	for i, rr := range req.Resources {
		a := configAlteration{rtype: rr.ResourceType, name: rr.ResourceName}
		var current *engine.TopicConfig
		if ti := v.byName[rr.ResourceName]; ti != nil && rr.ResourceType == kmsg.ConfigResourceTypeTopic {
			current = &ti.Config
		}
		a.change, a.err = incrementalChange(rr, current)
		if err := s.configAuthz(r, acl.AlterConfigs, rr.ResourceType, rr.ResourceName); err != nil {
			a.err = err
		}
		alts[i] = a
	}
	for i, err := range alterConfigs(ctx, s, alts, req.ValidateOnly) {
		res := kmsg.NewIncrementalAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = alts[i].rtype, alts[i].name
		res.ErrorCode, res.ErrorMessage = errorCode(err), errorMessage(err)
		resp.Resources = append(resp.Resources, res)
	}
	return resp, nil
}
