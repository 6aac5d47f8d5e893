package kafka

import (
	"sort"
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

// topicConfigEntries lists every topic config chronik knows for tc, sorted by
// name: the values set on the topic (engine.TopicConfig.Map) and the
// engine's defaults for the rest.
func topicConfigEntries(tc engine.TopicConfig) []configEntry {
	set := tc.Map()
	defaults := map[string]string{
		"cleanup.policy":         "delete",
		"compression.type":       "zstd",
		"delete.retention.ms":    strconv.FormatInt(engine.DefaultDeleteRetentionMs, 10),
		"max.message.bytes":      strconv.Itoa(engine.DefaultMaxMessageBytes),
		"message.timestamp.type": "CreateTime",
		"retention.bytes":        "-1",
		"retention.ms":           strconv.FormatInt(engine.DefaultRetentionMs, 10),
		"segment.bytes":          strconv.Itoa(engine.DefaultSegmentBytes),
		"segment.ms":             strconv.FormatInt(engine.DefaultSegmentMs, 10),
	}
	out := make([]configEntry, 0, len(defaults))
	for name, def := range defaults {
		if v, ok := set[name]; ok {
			out = append(out, configEntry{name, v, false})
		} else {
			out = append(out, configEntry{name, def, true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// parseTopicConfigs converts CreateTopics configs to an engine.TopicConfig;
// unknown names and bad values wrap engine.ErrInvalidConfig.
func parseTopicConfigs(m map[string]string) (engine.TopicConfig, error) {
	return engine.ParseTopicConfigs(m)
}
