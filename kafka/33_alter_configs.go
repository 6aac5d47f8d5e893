package kafka

// AlterConfigs: v0-2
//
// Behaviour:
//   - The legacy, whole-resource form: a TOPIC resource's configs become
//     exactly those given (every other config returns to its default), as
//     Kafka's AlterConfigs replaces a resource's dynamic configs. A config
//     with a null value is ignored. Otherwise as IncrementalAlterConfigs:
//     validated by the engine, applied through __meta, ValidateOnly,
//     BROKER resources INVALID_CONFIG, a resource named twice INVALID_REQUEST.
//   - Authorization: AlterConfigs on the topic (on the cluster for a broker),
//     else TOPIC_ (CLUSTER_) AUTHORIZATION_FAILED for the resource.
//
// Version notes:
//   - v1: ThrottleMillis semantics
//   - v2: flexible versions

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/engine"
)

func init() { regKey(33, 0, 2, handleAlterConfigs) }

func handleAlterConfigs(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	resp.Version = r.version
	alts := make([]configAlteration, len(req.Resources))
	for i, rr := range req.Resources {
		a := configAlteration{rtype: rr.ResourceType, name: rr.ResourceName,
			change: engine.ConfigChange{Set: map[string]string{}, Replace: true}}
		for _, c := range rr.Configs {
			if _, dup := a.change.Set[c.Name]; dup {
				a.err = kerrWith(kerr.InvalidRequest, fmt.Errorf("config %q named more than once", c.Name))
			}
			if c.Value != nil {
				a.change.Set[c.Name] = *c.Value
			}
		}
		if err := s.configAuthz(r, acl.AlterConfigs, rr.ResourceType, rr.ResourceName); err != nil {
			a.err = err
		}
		alts[i] = a
	}
	for i, err := range alterConfigs(ctx, s, alts, req.ValidateOnly) {
		res := kmsg.NewAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = alts[i].rtype, alts[i].name
		res.ErrorCode, res.ErrorMessage = errorCode(err), errorMessage(err)
		resp.Resources = append(resp.Resources, res)
	}
	return resp, nil
}
