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
//   - BROKER resources answer with no configs (chronik's broker settings
//     are command-line flags, not Kafka configs); other resource types
//     answer INVALID_REQUEST.
//   - Unknown topics answer UNKNOWN_TOPIC_OR_PARTITION.
//
// Version notes:
//   - v1: IncludeSynonyms, Source
//   - v3: IncludeDocumentation, ConfigType
//   - v4: flexible versions

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(32, 0, 4, handleDescribeConfigs) }

func handleDescribeConfigs(s *Server, _ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	resp.Version = r.version
	v := s.view()
	for _, rr := range req.Resources {
		res := kmsg.NewDescribeConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
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
		case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger:
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
