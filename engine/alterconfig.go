package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/chronik-io/chronik/shards"
)

// ConfigChange is a change to a topic's configs (Kafka config names, as
// ParseTopicConfigs takes them).
type ConfigChange struct {
	// Set gives names their values.
	Set map[string]string
	// Unset returns names to their defaults.
	Unset []string
	// Replace drops every config not in Set first (Kafka's legacy
	// AlterConfigs); otherwise the others are kept (IncrementalAlterConfigs).
	Replace bool
}

// AlterTopicConfig applies change to topic's configs through __meta and
// returns the configs now in force. retention.*, max.message.bytes,
// message.timestamp.type, segment.bytes and segment.ms take effect on every
// replica within a reconcile interval; compression.type applies to segments
// sealed after a replica's next start. With validateOnly nothing changes
// and the configs that would be in force are returned.
//
// Errors: ErrUnknownTopic, ErrInvalidConfig, ErrTimeout, ErrClosed.
func (e *Engine) AlterTopicConfig(ctx context.Context, topic string, change ConfigChange, validateOnly bool) (map[string]string, error) {
	t, ok := e.meta.State().Topics[topic]
	if !ok {
		return nil, fmt.Errorf("topic %q: %w", topic, ErrUnknownTopic)
	}
	next := map[string]string{}
	if !change.Replace {
		maps.Copy(next, t.Configs)
	}
	for _, k := range change.Unset {
		if !slices.Contains(topicConfigNames, k) {
			return nil, fmt.Errorf("topic %q: %w: unknown topic config %q", topic, ErrInvalidConfig, k)
		}
		delete(next, k)
	}
	maps.Copy(next, change.Set)
	if _, err := ParseTopicConfigs(next); err != nil {
		return nil, fmt.Errorf("topic %q: %w", topic, err)
	}
	if validateOnly {
		return next, nil
	}
	_, err := e.proposeMeta(ctx, shards.MetaCommand{Op: shards.OpAlterConfigs, Name: topic,
		Configs: change.Set, Unset: change.Unset, Replace: change.Replace})
	var me *metaError
	if errors.As(err, &me) && me.code == shards.MetaUnknownTopic {
		return nil, fmt.Errorf("topic %q: %w", topic, ErrUnknownTopic)
	}
	if err != nil {
		return nil, fmt.Errorf("alter configs of topic %q: %w", topic, err)
	}
	if t, ok := e.meta.State().Topics[topic]; ok {
		return maps.Clone(t.Configs), nil
	}
	return nil, fmt.Errorf("topic %q: %w", topic, ErrUnknownTopic)
}
