package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// configAlteration is one resource of an AlterConfigs or
// IncrementalAlterConfigs request, as the engine takes it.
type configAlteration struct {
	rtype  kmsg.ConfigResourceType
	name   string
	change engine.ConfigChange
	err    error // set while decoding: the resource is answered with it
}

// errAlterBroker: chronik's broker settings are `chronik start` flags.
var errAlterBroker = errors.New("broker configs are set by chronik start flags and cannot be altered through Kafka")

// alterConfigs applies each alteration and returns its error code and
// message. A resource named twice is refused (INVALID_REQUEST), as Kafka
// does; BROKER resources with no configs succeed (nothing to change), with
// configs INVALID_CONFIG; other resource types INVALID_REQUEST.
func alterConfigs(ctx context.Context, s *Server, alts []configAlteration, validateOnly bool) []error {
	seen := map[[2]string]int{}
	for _, a := range alts {
		seen[[2]string{fmt.Sprint(a.rtype), a.name}]++
	}
	out := make([]error, len(alts))
	for i, a := range alts {
		switch {
		case seen[[2]string{fmt.Sprint(a.rtype), a.name}] > 1:
			out[i] = kerrWith(kerr.InvalidRequest, fmt.Errorf("resource %q named more than once", a.name))
		case a.err != nil:
			out[i] = a.err
		case a.rtype == kmsg.ConfigResourceTypeBroker || a.rtype == kmsg.ConfigResourceTypeBrokerLogger:
			if len(a.change.Set) > 0 || len(a.change.Unset) > 0 {
				out[i] = kerrWith(kerr.InvalidConfig, errAlterBroker)
			}
		case a.rtype == kmsg.ConfigResourceTypeGroupConfig:
			out[i] = s.alterGroupConfigs(ctx, a.name, a.change, validateOnly)
		case a.rtype != kmsg.ConfigResourceTypeTopic:
			out[i] = kerrWith(kerr.InvalidRequest, fmt.Errorf("resource type %v cannot be altered", a.rtype))
		default:
			if _, err := s.be.AlterTopicConfig(ctx, a.name, a.change, validateOnly); err != nil {
				out[i] = err
			} else if !validateOnly {
				s.log.Info("altered topic configs", "topic", a.name, "set", a.change.Set, "unset", a.change.Unset, "replace", a.change.Replace)
			}
		}
	}
	return out
}

// listConfigs are the topic configs whose value is a comma-separated list
// (IncrementalAlterConfigs APPEND and SUBTRACT apply to them).
var listConfigs = map[string]string{"cleanup.policy": "delete"} // name -> default

// incrementalChange turns one IncrementalAlterConfigs resource into a
// ConfigChange; current is the topic's config now (for APPEND and
// SUBTRACT), nil for an unknown topic.
func incrementalChange(res kmsg.IncrementalAlterConfigsRequestResource, current *engine.TopicConfig) (engine.ConfigChange, error) {
	ch := engine.ConfigChange{Set: map[string]string{}}
	names := map[string]bool{}
	for _, c := range res.Configs {
		if names[c.Name] {
			return ch, kerrWith(kerr.InvalidRequest, fmt.Errorf("config %q named more than once", c.Name))
		}
		names[c.Name] = true
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if c.Value == nil {
				return ch, kerrWith(kerr.InvalidConfig, fmt.Errorf("SET of %q without a value", c.Name))
			}
			ch.Set[c.Name] = *c.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			ch.Unset = append(ch.Unset, c.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			def, isList := listConfigs[c.Name]
			if !isList {
				return ch, kerrWith(kerr.InvalidConfig, fmt.Errorf("%v on %q, which is not a list config", c.Op, c.Name))
			}
			if c.Value == nil {
				return ch, kerrWith(kerr.InvalidConfig, fmt.Errorf("%v of %q without a value", c.Op, c.Name))
			}
			have := def
			if current != nil {
				if v, ok := current.Map()[c.Name]; ok {
					have = v
				}
			}
			items := strings.Split(have, ",")
			for _, v := range strings.Split(*c.Value, ",") {
				v = strings.TrimSpace(v)
				if c.Op == kmsg.IncrementalAlterConfigOpAppend && !slices.Contains(items, v) {
					items = append(items, v)
				} else if c.Op == kmsg.IncrementalAlterConfigOpSubtract {
					items = slices.DeleteFunc(items, func(s string) bool { return s == v })
				}
			}
			if len(items) == 0 {
				return ch, kerrWith(kerr.InvalidConfig, fmt.Errorf("%q would be empty", c.Name))
			}
			ch.Set[c.Name] = strings.Join(items, ",")
		default:
			return ch, kerrWith(kerr.InvalidRequest, fmt.Errorf("unknown operation %d on %q", c.Op, c.Name))
		}
	}
	return ch, nil
}
