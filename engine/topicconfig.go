package engine

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/chronik-io/chronik/shards"
)

// Topic config defaults (Kafka's where Kafka has one).
const (
	DefaultRetentionMs     = 7 * 24 * int64(time.Hour/time.Millisecond)
	DefaultSegmentBytes    = 1 << 30
	DefaultSegmentMs       = 7 * 24 * int64(time.Hour/time.Millisecond)
	DefaultMaxMessageBytes = 1<<20 + 12
	// DefaultDeleteRetentionMs is delete.retention.ms: how long a compacted
	// topic keeps a key's tombstone (1 day, as Kafka).
	DefaultDeleteRetentionMs = 24 * int64(time.Hour/time.Millisecond)
	MaxTopicNameLength       = 249
)

// topicConfigNames are the topic configs ParseTopicConfigs knows.
var topicConfigNames = []string{"retention.ms", "retention.bytes", "segment.bytes", "segment.ms",
	"max.message.bytes", "cleanup.policy", "message.timestamp.type", "compression.type", "delete.retention.ms"}

// ParseTopicConfigs converts Kafka topic config names and values
// (retention.ms, retention.bytes, segment.bytes, segment.ms,
// max.message.bytes, cleanup.policy, message.timestamp.type,
// compression.type, delete.retention.ms) to a TopicConfig. Unknown names and bad values are
// reported together, each wrapping ErrInvalidConfig. Partitions and
// ReplicationFactor are left zero.
func ParseTopicConfigs(m map[string]string) (TopicConfig, error) {
	var tc TopicConfig
	var bad []error
	keys := slices.Sorted(maps.Keys(m))
	for _, k := range keys {
		v := m[k]
		i64 := func(min int64) int64 {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < min {
				bad = append(bad, fmt.Errorf("%w: %s=%q: want an integer >= %d", ErrInvalidConfig, k, v, min))
			}
			return n
		}
		switch k {
		case "retention.ms":
			tc.RetentionMs = i64(-1)
		case "retention.bytes":
			tc.RetentionBytes = i64(-1)
		case "segment.bytes":
			tc.SegmentBytes = i64(1024)
		case "segment.ms":
			tc.SegmentMs = i64(1)
		case "max.message.bytes":
			n := i64(64)
			if n > shards.MaxAppendBytes {
				bad = append(bad, fmt.Errorf("%w: %s=%q: at most %d", ErrInvalidConfig, k, v, shards.MaxAppendBytes))
			}
			tc.MaxMessageBytes = int32(n)
		case "cleanup.policy":
			if v != "delete" && v != "compact" && v != "compact,delete" && v != "delete,compact" {
				bad = append(bad, fmt.Errorf("%w: %s=%q: want delete or compact", ErrInvalidConfig, k, v))
			}
			tc.CleanupPolicy = v
		case "message.timestamp.type":
			if v != "CreateTime" && v != "LogAppendTime" {
				bad = append(bad, fmt.Errorf("%w: %s=%q: want CreateTime or LogAppendTime", ErrInvalidConfig, k, v))
			}
			tc.MessageTimestampType = v
		case "delete.retention.ms":
			// 0 (tombstones go at the first compaction) is stored as -1:
			// the zero value means the default.
			if tc.DeleteRetentionMs = i64(0); tc.DeleteRetentionMs == 0 {
				tc.DeleteRetentionMs = -1
			}
		case "compression.type":
			switch v {
			case "producer", "zstd", "s2", "lz4", "none", "uncompressed", "gzip", "snappy":
			default:
				bad = append(bad, fmt.Errorf("%w: %s=%q: unknown codec", ErrInvalidConfig, k, v))
			}
			tc.Compression = v
		default:
			bad = append(bad, fmt.Errorf("%w: unknown topic config %q", ErrInvalidConfig, k))
		}
	}
	if len(bad) > 0 {
		return TopicConfig{}, errors.Join(bad...)
	}
	return tc, nil
}

// Map returns the non-default settings of tc as Kafka config names; it is
// the inverse of ParseTopicConfigs.
func (tc TopicConfig) Map() map[string]string {
	m := map[string]string{}
	if tc.RetentionMs != 0 {
		m["retention.ms"] = strconv.FormatInt(tc.RetentionMs, 10)
	}
	if tc.RetentionBytes != 0 {
		m["retention.bytes"] = strconv.FormatInt(tc.RetentionBytes, 10)
	}
	if tc.SegmentBytes != 0 {
		m["segment.bytes"] = strconv.FormatInt(tc.SegmentBytes, 10)
	}
	if tc.SegmentMs != 0 {
		m["segment.ms"] = strconv.FormatInt(tc.SegmentMs, 10)
	}
	if tc.MaxMessageBytes != 0 {
		m["max.message.bytes"] = strconv.FormatInt(int64(tc.MaxMessageBytes), 10)
	}
	if tc.CleanupPolicy != "" {
		m["cleanup.policy"] = tc.CleanupPolicy
	}
	if tc.MessageTimestampType != "" {
		m["message.timestamp.type"] = tc.MessageTimestampType
	}
	if tc.Compression != "" {
		m["compression.type"] = tc.Compression
	}
	if tc.DeleteRetentionMs != 0 {
		m["delete.retention.ms"] = strconv.FormatInt(max(tc.DeleteRetentionMs, 0), 10)
	}
	return m
}

// withDefaults fills the zero fields (other than Partitions and
// ReplicationFactor) with their defaults.
func (tc TopicConfig) withDefaults() TopicConfig {
	if tc.RetentionMs == 0 {
		tc.RetentionMs = DefaultRetentionMs
	}
	if tc.RetentionBytes == 0 {
		tc.RetentionBytes = -1
	}
	if tc.SegmentBytes == 0 {
		tc.SegmentBytes = DefaultSegmentBytes
	}
	if tc.SegmentMs == 0 {
		tc.SegmentMs = DefaultSegmentMs
	}
	if tc.MaxMessageBytes == 0 {
		tc.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if tc.CleanupPolicy == "" {
		tc.CleanupPolicy = "delete"
	}
	if tc.MessageTimestampType == "" {
		tc.MessageTimestampType = "CreateTime"
	}
	if tc.Compression == "" {
		tc.Compression = "zstd"
	}
	if tc.DeleteRetentionMs == 0 {
		tc.DeleteRetentionMs = DefaultDeleteRetentionMs
	}
	return tc
}

// validTopicName reports whether name is a legal Kafka topic name.
func validTopicName(name string) bool {
	if name == "" || len(name) > MaxTopicNameLength || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
