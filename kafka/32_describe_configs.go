package kafka

// DescribeConfigs: v0-4
//
// Behaviour:
//   - TOPIC resources list the topic configs chronik knows (cleanup.policy,
//     compression.type, max.message.bytes, message.timestamp.type,
//     retention.bytes, retention.ms, segment.bytes, segment.ms), with
//     Source DYNAMIC_TOPIC_CONFIG for values set at creation or by
//     (Incremental)AlterConfigs and
//     DEFAULT_CONFIG otherwise. ConfigNames filters them.
//   - BROKER resources (this broker's id, or "") list this broker's
//     settings under their Kafka names (broker.id, advertised.listeners,
//     log.dirs, offsets.topic.num.partitions, ...), read-only with Source
//     STATIC_BROKER_CONFIG, plus chronik.http.addr (its HTTP address) when
//     it serves HTTP; another broker's id answers INVALID_REQUEST (Kafka
//     routes a broker resource to that broker). BROKER_LOGGER answers no
//     configs; other resource types INVALID_REQUEST.
//   - Unknown topics answer UNKNOWN_TOPIC_OR_PARTITION.
//   - Authorization: DescribeConfigs on the topic (on the cluster for a
//     broker), else TOPIC_ (CLUSTER_) AUTHORIZATION_FAILED for the resource.
//
// Version notes:
//   - v1: IncludeSynonyms, Source
//   - v3: IncludeDocumentation, ConfigType
//   - v4: flexible versions

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(32, 0, 4, handleDescribeConfigs) }

func handleDescribeConfigs(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	resp.Version = r.version
	v := s.view()
	for _, rr := range req.Resources {
		res := kmsg.NewDescribeConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		if err := s.configAuthz(r, acl.DescribeConfigs, rr.ResourceType, rr.ResourceName); err != nil {
			res.ErrorCode, res.ErrorMessage = errorCode(err), errorMessage(err)
			resp.Resources = append(resp.Resources, res)
			continue
		}
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			ti := v.byName[rr.ResourceName]
			if ti == nil {
				res.ErrorCode = kerr.UnknownTopicOrPartition.Code
				break
			}
			for _, e := range topicConfigEntries(ti.Config) {
				if rr.ConfigNames != nil && !slices.Contains(rr.ConfigNames, e.name) {
					continue
				}
				c := kmsg.NewDescribeConfigsResponseResourceConfig()
				c.Name = e.name
				val := e.value
				c.Value = &val
				c.IsDefault = e.isDefault
				c.Source = kmsg.ConfigSourceDefaultConfig
				if !e.isDefault {
					c.Source = kmsg.ConfigSourceDynamicTopicConfig
				}
				c.ConfigType = configType(e.name)
				res.Configs = append(res.Configs, c)
			}
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName != "" && rr.ResourceName != strconv.FormatUint(s.be.NodeID(), 10) {
				res.ErrorCode = kerr.InvalidRequest.Code
				res.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("broker %s asked about broker %q: ask that broker", strconv.FormatUint(s.be.NodeID(), 10), rr.ResourceName))
				break
			}
			for _, bc := range s.brokerConfigs(v) {
				if rr.ConfigNames != nil && !slices.Contains(rr.ConfigNames, bc.name) {
					continue
				}
				c := kmsg.NewDescribeConfigsResponseResourceConfig()
				c.Name, c.Value, c.ReadOnly = bc.name, kmsg.StringPtr(bc.value), true
				c.Source, c.ConfigType = kmsg.ConfigSourceStaticBrokerConfig, bc.typ
				res.Configs = append(res.Configs, c)
			}
		case kmsg.ConfigResourceTypeBrokerLogger:
		case kmsg.ConfigResourceTypeGroupConfig:
			s.describeGroupConfigs(ctx, &res, rr.ConfigNames)
		default:
			res.ErrorCode = kerr.InvalidRequest.Code
		}
		resp.Resources = append(resp.Resources, res)
	}
	return resp, nil
}

func configType(name string) kmsg.ConfigType {
	switch name {
	case "cleanup.policy":
		return kmsg.ConfigTypeList
	case "compression.type", "message.timestamp.type":
		return kmsg.ConfigTypeString
	case "max.message.bytes":
		return kmsg.ConfigTypeInt
	default:
		return kmsg.ConfigTypeLong
	}
}
