package kafka

import (
	"fmt"
	"strconv"

	"github.com/chronik-io/chronik/engine"
)

// configEntry is one topic config as DescribeConfigs and CreateTopics (v5+)
// report it.
type configEntry struct {
	name      string
	value     string
	isDefault bool
}

// Kafka's defaults for the topic configs chronik knows, as documented on
// engine.TopicConfig; a zero field of TopicConfig means this value.
const (
	defaultRetentionMs     = 7 * 24 * 60 * 60 * 1000
	defaultSegmentBytes    = 1 << 30
	defaultSegmentMs       = 7 * 24 * 60 * 60 * 1000
	defaultMaxMessageBytes = 1<<20 + 12
)

// topicConfigEntries lists the configs of a topic, sorted by name.
func topicConfigEntries(tc engine.TopicConfig) []configEntry {
	i64 := func(name string, v, def int64) configEntry {
		if v == 0 {
			return configEntry{name, strconv.FormatInt(def, 10), true}
		}
		return configEntry{name, strconv.FormatInt(v, 10), false}
	}
	str := func(name, v, def string) configEntry {
		if v == "" {
			return configEntry{name, def, true}
		}
		return configEntry{name, v, false}
	}
	return []configEntry{
		str("cleanup.policy", tc.CleanupPolicy, "delete"),
		str("compression.type", tc.Compression, "zstd"),
		i64("max.message.bytes", int64(tc.MaxMessageBytes), defaultMaxMessageBytes),
		str("message.timestamp.type", tc.MessageTimestampType, "CreateTime"),
		i64("retention.bytes", tc.RetentionBytes, -1),
		i64("retention.ms", tc.RetentionMs, defaultRetentionMs),
		i64("segment.bytes", tc.SegmentBytes, defaultSegmentBytes),
		i64("segment.ms", tc.SegmentMs, defaultSegmentMs),
	}
}

// parseTopicConfigs converts CreateTopics configs to an engine.TopicConfig.
// TODO(engine): call engine.ParseTopicConfigs once it lands; until then
// only an empty config set is accepted.
func parseTopicConfigs(m map[string]string) (engine.TopicConfig, error) {
	if len(m) == 0 {
		return engine.TopicConfig{}, nil
	}
	return engine.TopicConfig{}, fmt.Errorf("%w: topic configs are not supported yet", engine.ErrInvalidConfig)
}
